"""The pure parts of bench/cpu.py: CPU seconds per memory, py-spy's raw stacks, the table.

Nothing here reads a process or the network.
"""

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# "name (path/to/file.py:12)", the form py-spy gives a Python frame.
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
# Where a frame's file sits under an interpreter or a virtualenv: the package comes next.
_ROOTS = ("site-packages/", "dist-packages/", "/src/", "/lib/python")


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds (user + system) of one process as /proc tells them: its own, and those
    of its children that it has waited for (cutime + cstime)."""

    own: float
    reaped_children: float


def tree_seconds(root: CpuSample, live_descendants: Iterable[CpuSample]) -> float:
    """CPU seconds a process and everything it started have used: its own, its reaped
    children's, and each live descendant's own and reaped children's.

    A child that exits moves from the live list to its parent's reaped time whole, so the
    sum only grows (PostgreSQL's backends come and go under the postmaster)."""
    return (
        root.own + root.reaped_children + sum(d.own + d.reaped_children for d in live_descendants)
    )


def ms_per_memory(seconds: float, memories: int) -> float:
    """CPU milliseconds per ingested memory; NaN when nothing was ingested."""
    return seconds * 1000 / memories if memories > 0 else float("nan")


def net_seconds(seconds: float, idle_per_s: float, window_s: float) -> float:
    """What a component used beyond its idle rate over the window (never below zero)."""
    return max(0.0, seconds - idle_per_s * window_s)


def quiet(rate: float, idle_rate: float) -> bool:
    """Whether the stack's CPU rate (cores) is back at idle: within 0.05 cores or 50 % of it."""
    return rate <= max(idle_rate * 1.5, idle_rate + 0.05)


def pg_split(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], total: float
) -> dict[str, float]:
    """PostgreSQL's CPU seconds over the window by whom the process served; what no live
    process accounts for (reaped backends and workers, the postmaster) is "exited/postmaster"."""
    out: dict[str, float] = {}
    for pid, (who, seconds) in after.items():
        out[who] = out.get(who, 0.0) + seconds - (before[pid][1] if pid in before else 0.0)
    out.pop("bench polling", None)
    out["exited/postmaster"] = total - sum(out.values())
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def parse_raw(text: str) -> Counter[tuple[str, ...]]:
    """py-spy's `--format raw` (collapsed stacks, "root;...;leaf COUNT" a line), merged,
    each file named from its package on (see `short_frame`)."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(short_frame(f) for f in stack.split(";"))] += int(count)
    return stacks


def own_shares(
    stacks: Mapping[tuple[str, ...], int], key: str = "frame"
) -> list[tuple[str, float]]:
    """Samples on top of the stack (own time, not callees'), by frame or by package, as
    shares of all samples, largest first."""
    total = sum(stacks.values())
    own: Counter[str] = Counter()
    for stack, count in stacks.items():
        leaf = stack[-1]
        own[package_of(leaf) if key == "package" else leaf] += count
    return [(name, n / total) for name, n in own.most_common()] if total else []


def inclusive_shares(
    stacks: Mapping[tuple[str, ...], int], package: str = "mnemo."
) -> list[tuple[str, float]]:
    """Samples with the frame anywhere on the stack (callees included, once per stack), for
    the frames of packages starting with `package`, as shares of all samples."""
    total = sum(stacks.values())
    seen: Counter[str] = Counter()
    for stack, count in stacks.items():
        for frame in set(stack):
            if package_of(frame).startswith(package) and not frame.startswith("<module>"):
                seen[frame] += count
    return [(name, n / total) for name, n in seen.most_common()] if total else []


def short_path(path: str) -> str:
    """A file's path from its package on: "mnemo/audit/entries.py" for a workspace file,
    "asyncpg/connection.py" in a virtualenv, "asyncio/events.py" in the standard library."""
    for root in _ROOTS:
        if root in path:
            rest = path.rsplit(root, 1)[1]
            # ".../lib/python3.11/asyncio/events.py": the version comes first.
            return rest.partition("/")[2] if root == "/lib/python" else rest
    return path


def short_frame(frame: str) -> str:
    """A py-spy frame ("name (file:line)") with its file's path shortened."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    line = f":{match.group('line')}" if match.group("line") else ""
    return f"{match.group('function')} ({short_path(match.group('file'))}{line})"


def package_of(frame: str) -> str:
    """The package a frame's code belongs to: "mnemo.retrieval", "asyncpg", "asyncio",
    "json"; the file's name when nothing better shows."""
    match = _FRAME.match(frame)
    parts = [p for p in short_path(match.group("file") if match else frame).split("/") if p]
    if not parts:
        return "?"
    if parts[0] == "mnemo" and len(parts) > 2:
        return f"mnemo.{parts[1]}"
    return parts[0].removesuffix(".py")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub table, numbers right-aligned."""

    def numeric(cell: str) -> bool:
        return bool(cell) and cell.replace(",", "").replace(".", "", 1).lstrip("-").isdigit()

    align = [
        "---:" if rows and all(numeric(r[i]) for r in rows) else "---" for i in range(len(header))
    ]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)
