"""Byte searches of data directories, for tests that prove something left the disk."""

import os
from collections.abc import Iterator, Sequence
from pathlib import Path


def found_in_files(root: Path, needles: Sequence[bytes]) -> Iterator[tuple[str, bytes]]:
    """(file relative to `root`, needle) for each needle a file's raw bytes hold, at any
    depth. A server writes on meanwhile: a folder or file that goes, or cannot be read,
    between listing and reading is skipped (a compaction removes whole folders)."""
    for folder, _, names in sorted(os.walk(root)):  # errors listing a folder: skipped
        for name in sorted(names):
            path = Path(folder, name)
            if path.is_symlink():
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            for needle in needles:
                if needle in data:
                    yield str(path.relative_to(root)), needle


def files_holding(root: Path, needles: Sequence[bytes]) -> list[str]:
    """The files under `root` whose raw bytes hold any of `needles` (`found_in_files`)."""
    return list(dict.fromkeys(path for path, _ in found_in_files(root, needles)))
