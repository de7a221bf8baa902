"""How every command prints: rich tables for people, `--json` for scripts, one place for both.

Tables are as wide as the terminal, or 100 columns when output is not a terminal (COLUMNS
overrides), so what a pipe or a README paste shows does not depend on who ran it.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

PIPE_WIDTH = 100


def console(*, unbounded: bool = False) -> Console:
    """A console on the current stdout (tests swap it), no colour when it is not a terminal.

    `unbounded` lets a table be as wide as its cells (the `--wide` views).
    """
    width = 1000 if unbounded else shutil.get_terminal_size((PIPE_WIDTH, 24)).columns
    return Console(file=sys.stdout, width=width, highlight=False, soft_wrap=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=_plain))


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    title: str | None = None,
    unbounded: bool = False,
) -> None:
    """A borderless table with a header row; cells fold only past the console's width."""
    grid = Table(*header, box=None, title=title, title_justify="left", pad_edge=False)
    for row in rows:
        grid.add_row(*row)
    out = console(unbounded=unbounded)
    with out.capture() as captured:
        out.print(grid)
    # Rich pads every cell to its column; trailing blanks only get in a pipe's way.
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))


def usd(amount: Decimal) -> str:
    """Dollars to the millionth, without trailing zeros: $0.00115, $12, $0.000004."""
    rounded = amount.quantize(Decimal("0.000001")).normalize()
    return f"${rounded:f}"


def day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"
