"""CPU time and peak memory of a server process and its children, read from Linux's /proc.

psutil would do the same; /proc keeps the bench free of a dependency the relay does not need.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may hold spaces.
    return raw[raw.rindex(")") + 2 :].split()


def _tree(pid: int) -> list[int]:
    """`pid` and every live descendant (a proxy may fork its workers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += parents.get(current, [])
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process tree so far."""
    total = 0.0
    for member in _tree(pid):
        try:
            fields = _stat(member)
        except OSError:
            continue
        # utime and stime are fields 14 and 15 of /proc/<pid>/stat (11, 12 after the name).
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def peak_rss_mb(pid: int) -> float:
    """The peak resident set (VmHWM) summed over the process tree, in MB."""
    total = 0
    for member in _tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024
