"""How every command prints: rich tables for people, `--json` for scripts, one place for both.

Tables are as wide as their cells, whoever runs them and wherever the output goes, so a pipe,
a script and a README paste see the same lines; the default views keep to 100 columns by
choosing their columns (`relaykit models`), the `--wide` ones do not.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

UNBOUNDED = 1000


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


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A borderless table with a header row, as wide as its cells: ids are never cut or folded
    (views meant for a terminal keep their columns few instead)."""
    grid = Table(*header, box=None, pad_edge=False)
    for row in rows:
        grid.add_row(*row)
    buffer = io.StringIO()
    Console(file=buffer, width=UNBOUNDED, highlight=False, color_system=None).print(grid)
    # Rich pads every cell to its column; trailing blanks only get in a pipe's way.
    print("\n".join(line.rstrip() for line in buffer.getvalue().splitlines()))


def usd(amount: Decimal) -> str:
    """Dollars to the millionth, without trailing zeros: $0.00115, $12, $0.000004."""
    rounded = amount.quantize(Decimal("0.000001")).normalize()
    return f"${rounded:f}"


def day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"
