"""README's Configuration table and the settings classes say the same: every MNEMO_*
variable a process reads has a row, every row names a variable some process reads, and a
default the row shows in backticks is the code's."""

import re
from pathlib import Path

import msgspec
import pytest

from mnemo.audit.settings import AuditSettings
from mnemo.gateway.mcp.settings import McpStdioSettings
from mnemo.gateway.settings import GatewaySettings
from mnemo.ingest.settings import IngestSettings
from mnemo.retrieval.settings import RetrievalSettings
from mnemo.runtime.settings import RunSettings
from mnemo.settings import env_name
from mnemo.synthesis.settings import SynthesisSettings

REPO = Path(__file__).resolve().parents[3]
CLASSES = (
    GatewaySettings,
    IngestSettings,
    RetrievalSettings,
    SynthesisSettings,
    AuditSettings,
    RunSettings,
    McpStdioSettings,
)
# Read by the test suite, not by a process.
TEST_ONLY = {"MNEMO_TEST_NATS_URL", "MNEMO_TEST_DATABASE_URL"}


def _rows() -> dict[str, str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in table.splitlines():
        if not line.startswith("| `MNEMO_"):
            continue
        names_cell, _used_by, default = [c.strip() for c in line.strip("|").split("|")[:3]]
        names = re.findall(r"`(MNEMO_[A-Z_]+|_[A-Z_]+)`", names_cell)
        first = names[0]
        defaults = [d.strip() for d in default.split(" / ")]
        for index, name in enumerate(names):
            if name.endswith("_"):  # `MNEMO_CMD_MAX_AGE` / `_EVT_`: the stream's part
                name = "MNEMO" + name + first.split("_", 2)[2]
            elif name.startswith("_"):  # `MNEMO_EMBEDDING_URL` / `_MODEL`: the last part
                name = first.rsplit("_", 1)[0] + name
            rows[name] = defaults[index] if len(defaults) == len(names) else defaults[0]
    return rows


def _code() -> dict[str, object]:
    code: dict[str, object] = {}
    for cls in CLASSES:
        for field in msgspec.structs.fields(cls):
            default = None if field.required else field.default
            code.setdefault(env_name(field.name), default)
    return code


def test_every_setting_has_a_row_and_every_row_a_setting():
    rows, code = _rows(), _code()
    assert sorted(set(code) - set(rows)) == []
    assert sorted(set(rows) - set(code) - TEST_ONLY) == []


@pytest.mark.parametrize("name", sorted(_code()))
def test_a_default_shown_is_the_codes(name):
    shown, value = _rows()[name], _code()[name]
    literal = re.match(r"^`([^`$]*)`", shown)
    if literal is None or value is None:
        return  # "unset", "—", "a free port", "generated once ...": no literal to compare
    text = literal.group(1)
    if isinstance(value, bool):
        assert text == str(value).lower(), (name, shown, value)
    elif isinstance(value, int | float):
        assert float(text) == float(value), (name, shown, value)
    else:
        assert text == value, (name, shown, value)
