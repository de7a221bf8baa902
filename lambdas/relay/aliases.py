"""Model names a client asks for that the relay does not serve, and what serves them instead.

Two sources, consulted in order, only for a name that is not a served model:
- the operator's alias map (`RELAY_MODEL_ALIASES`, the CDK context `relaykit.modelAliases`,
  `relaykit serve --alias`): patterns where `*` matches any text, e.g.
  `{"claude-opus-*": "claude-opus-4-6"}`; the first pattern that matches wins;
- the family rule (on unless `RELAY_FAMILY_ALIASES=off`): `claude-opus-*`, `claude-sonnet-*`,
  `claude-haiku-*` and Claude Code's short names `opus`, `sonnet`, `haiku` go to the newest
  served model of that family, since Claude Code asks for its own newest model by default.
Either way the reply names the model that served it and carries a `warning` header.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

FAMILIES = ("opus", "sonnet", "haiku")
_FAMILY_ID = re.compile(r"^claude-(opus|sonnet|haiku)-[a-z0-9.@:-]+$")


class AliasError(ValueError):
    """The alias map is invalid; the message names the setting and the fix."""


_HELP = 'a JSON object from model name pattern to served model, e.g. {"claude-opus-*": "opus-4-6"}'


def parse_aliases(raw: str, setting: str) -> tuple[tuple[str, str], ...]:
    """(pattern, model) pairs from a JSON object, in its order."""
    if not raw.strip():
        return ()
    try:
        data = json.loads(raw)
    except ValueError:
        raise AliasError(f"{setting} is not valid JSON; it is {_HELP}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in data.items()
    ):
        raise AliasError(f"{setting} must be {_HELP}")
    return tuple(data.items())


def parse_alias_flags(flags: list[str]) -> tuple[tuple[str, str], ...]:
    """(pattern, model) pairs from `PATTERN=MODEL` strings (`relaykit serve --alias`)."""
    pairs = []
    for flag in flags:
        pattern, equals, model = flag.partition("=")
        if not (equals and pattern.strip() and model.strip()):
            raise AliasError(f"--alias {flag!r}: expected PATTERN=MODEL, e.g. claude-opus-*=opus")
        pairs.append((pattern.strip(), model.strip()))
    return tuple(pairs)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def matches(pattern: str, name: str) -> bool:
    return _compiled(pattern).match(name) is not None


def aliased(aliases: tuple[tuple[str, str], ...], name: str) -> str | None:
    """The model the first matching pattern names, or None."""
    return next((model for pattern, model in aliases if matches(pattern, name)), None)


def family_of(name: str) -> str | None:
    """opus, sonnet or haiku for a family id or short name the family rule covers."""
    if name in FAMILIES:
        return name
    match = _FAMILY_ID.match(name)
    return match.group(1) if match else None
