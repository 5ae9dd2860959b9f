"""No log call anywhere renders an exception (or anything else) to text itself.

`repr(exc)`, `str(exc)` and f-strings put an exception's message in the line, which the
scrubbing cannot take apart again: pass the exception (`error=exc`) and the telemetry
describes it by class, codes and frames.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "msg"}
_LOGGERS = {"log", "logger", "_log", "_logger", "structlog"}


def _log_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in _LOGGERS
        ):
            yield node


def _renders_text(arg: ast.AST) -> bool:
    for node in ast.walk(arg):
        if isinstance(node, ast.JoinedStr):
            return True
        called = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        if called and node.func.id in {"repr", "str", "format"}:  # type: ignore[attr-defined]
            return True
        if isinstance(node, ast.Attribute) and node.attr in {"args", "message", "detail"}:
            return True
    return False


def test_log_calls_pass_values_not_rendered_text():
    sources = sorted(ROOT.glob("libs/*/src/**/*.py")) + sorted(ROOT.glob("services/*/src/**/*.py"))
    assert len(sources) > 50
    offenders = []
    for path in sources:
        for call in _log_calls(ast.parse(path.read_text(), str(path))):
            args = [*call.args, *(k.value for k in call.keywords)]
            if any(_renders_text(a) for a in args):
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert offenders == []
