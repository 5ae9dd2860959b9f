"""Byte searches of data directories, for tests that prove something left the disk."""

from collections.abc import Sequence
from pathlib import Path


def files_holding(root: Path, needles: Sequence[bytes]) -> list[str]:
    """The files under `root` (any depth, relative to it) whose raw bytes hold any of
    `needles`. A server writes on meanwhile: a file that goes, or cannot be read, between
    listing and reading is skipped."""
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            data = path.read_bytes()
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            continue
        if any(needle in data for needle in needles):
            hits.append(str(path.relative_to(root)))
    return hits
