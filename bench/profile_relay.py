"""Where the relay's CPU goes: py-spy samples the relay (one uvicorn worker) while `compare.py`'s
load runs against it, and the top entries are printed, by function and by library.

py-spy is not a dependency of the kit: install it beside it, e.g.

    .tools/uv/bin/uv venv .tools/py-spy
    .tools/uv/bin/uv pip install --python .tools/py-spy/bin/python py-spy

    .venv/bin/python bench/profile_relay.py [--scenario invoke] [--callers 32] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from compare import LOGS, ROOT, SCENARIOS, Cell, calls, free_port, measure, servers, simulator

PY_SPY = ROOT / ".tools" / "py-spy" / "bin" / "py-spy"
# "function (path/to/module.py:line)" in py-spy's collapsed stacks.
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^()]*?)(?::\d+)?\)$")


def library(path: str) -> str:
    """The package a frame's file belongs to (py-spy prints paths from the import root):
    `relay.sse`, `starlette`, `asyncio`, ...; the event loop's own C code counts as `loop`."""
    parts = Path(path).parts
    if parts[:1] == ("relay",):
        return "relay." + Path(path).stem
    return parts[0].removesuffix(".py") if parts else path


def summarise(collapsed: str, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_FRAME.match(f) for f in stack.split(";")]
        parsed = [(m["function"], m["path"]) for m in frames if m]
        if not parsed:
            continue
        function, path = parsed[-1]
        if function == "Runner.run":  # time in uvloop's C code (polling, socket I/O)
            function, path = "uvloop (C: polling, socket I/O)", "loop"
        own[f"{library(path)}: {function}"] += samples
        for name in {library(p) for _, p in parsed}:
            inclusive[name] += samples
    if not total:
        print("no samples (is the relay idle, or may py-spy not attach here?)")
        return
    print(f"\n{total} samples; own time by function (top {top}):")
    for name, samples in own.most_common(top):
        print(f"  {samples * 100 / total:5.1f}%  {name}")
    print(f"\ntime with a frame of the library on the stack (top {top}):")
    for name, samples in inclusive.most_common(top):
        print(f"  {samples * 100 / total:5.1f}%  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=SCENARIOS, default="invoke")
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if not PY_SPY.exists():
        sys.exit(f"py-spy not found at {PY_SPY.relative_to(ROOT)} (see this script's docstring)")
    LOGS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, simulator() as sim:
        relay = servers(sim.url, Path("litellm"), Path(tmp))["relay"]
        relay.start(free_port())
        try:
            output = LOGS / f"profile-{args.scenario}-{args.callers}.txt"
            spy = subprocess.Popen(
                [str(PY_SPY), "record", "--pid", str(relay.pid), "--duration",
                 str(int(args.seconds)), "--rate", "250", "--format", "raw",
                 "--nonblocking", "--output", str(output)],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            cell = Cell()
            call = calls("relay")[args.scenario]
            asyncio.run(measure(relay, call, args.callers, args.seconds, 10**9, cell))
            if spy.wait(timeout=args.seconds + 30) != 0:
                sys.exit(f"py-spy failed with {spy.returncode}")
        finally:
            relay.stop()
        print(
            f"{args.scenario}, {args.callers} callers: {cell.rate:.0f} req/s, "
            f"{cell.cpu_ms:.2f} ms CPU per request, {cell.errors} errors"
        )
        summarise(output.read_text(), args.top)
        print(f"\ncollapsed stacks (for flamegraph tools): {output}")


if __name__ == "__main__":
    main()
