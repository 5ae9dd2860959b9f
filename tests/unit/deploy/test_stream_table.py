"""deploy/README.md's stream settings table stays true: one row per setting, its default
as the code has it, its production value as the base ConfigMap sets it."""

import re
from pathlib import Path

import msgspec

from mnemo.settings import JetStreamSettings, env_name

from .kustomize import find, render

REPO = Path(__file__).resolve().parents[3]
ROW = re.compile(r"^\| `(MNEMO_[A-Z_]+)` \| `([^`]+)`[^|]*\| `([^`]+)`[^|]*\|", re.M)


def test_every_stream_setting_has_a_true_row() -> None:
    table = ROW.findall((REPO / "deploy" / "README.md").read_text(encoding="utf-8"))
    rows = {name: (default, production) for name, default, production in table}
    defaults = JetStreamSettings()
    config = find(render(REPO / "deploy" / "k8s" / "base"), "ConfigMap", "mnemo-config")["data"]
    for field in msgspec.structs.fields(JetStreamSettings):
        name = env_name(field.name)
        assert name in rows, f"{name} has no row in deploy/README.md"
        default, production = rows[name]
        value = getattr(defaults, field.name)
        assert _same(default, value), (name, default, value)
        assert _same(production, config[name]), (name, production, config[name])


def _same(shown: str, value: object) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(shown) == float(value)
    return shown == str(value)
