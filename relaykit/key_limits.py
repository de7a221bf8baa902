"""`--key-limits rpm=60,tpm=200000,daily-usd=1,monthly-usd=10`: limits for a key serve issues."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import typer

NAMES = ("rpm", "tpm", "daily-usd", "monthly-usd")


@dataclass(frozen=True)
class KeyLimits:
    rpm: int | None = None
    tpm: int | None = None
    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None

    def store_arguments(self) -> dict[str, Any]:
        return {
            "rpm": self.rpm,
            "tpm": self.tpm,
            "daily_usd": self.daily_usd,
            "monthly_usd": self.monthly_usd,
        }

    def describe(self) -> str:
        parts = [
            f"{self.rpm} requests/min" if self.rpm else "",
            f"{self.tpm} tokens/min" if self.tpm else "",
            f"${self.daily_usd}/day" if self.daily_usd else "",
            f"${self.monthly_usd}/month" if self.monthly_usd else "",
        ]
        return ", ".join(p for p in parts if p) or "no limits"


def parse_key_limits(text: str | None) -> KeyLimits | None:
    """The limits in `text`; typer.BadParameter (exit 2) saying what is allowed."""
    if text is None:
        return None
    values: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, raw = part.partition("=")
        if name not in NAMES or not raw:
            raise typer.BadParameter(
                f"{part!r}: expected NAME=VALUE with NAME one of {', '.join(NAMES)}"
            )
        try:
            number = Decimal(raw)
        except InvalidOperation:
            number = Decimal(0)
        if number <= 0 or (name in ("rpm", "tpm") and number != number.to_integral_value()):
            kind = "whole number" if name in ("rpm", "tpm") else "amount of USD"
            raise typer.BadParameter(f"{name}={raw}: expected a positive {kind}")
        values[name.replace("-", "_")] = int(number) if name in ("rpm", "tpm") else number
    return KeyLimits(**values)
