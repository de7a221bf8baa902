"""`relaykit route --explain BODY.json`: which rule of a router a request takes, and why the
rules before it did not match, offline, with the relay's own router code (relay/routers.py).

The routers come from `--routers FILE` (the JSON of RELAY_ROUTERS or the CDK context's
`relaykit.routers`), else from RELAY_ROUTERS. The prompt's text is never printed: only its
length and whether each rule's pattern matched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from relay.catalog import UnknownModelError
from relay.catalog_extra import catalog_from_env
from relay.routers import Facts, RouterError, Routers, parse_routers
from relaykit.options import Json
from relaykit.output import emit_json, table

_FACTS = ("input_tokens", "max_tokens", "tools", "images", "documents", "thinking", "owner")


def _read(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise typer.BadParameter(f"cannot read {path}: {error.strerror}", param_hint=what) from None
    except ValueError:
        raise typer.BadParameter(f"{path} is not JSON", param_hint=what) from None


def _routers(path: Path | None) -> Routers:
    catalog = catalog_from_env(os.environ)

    def unknown(name: str) -> str | None:
        try:
            catalog.resolve(name)
        except UnknownModelError:
            return "not a catalog model"
        return None

    setting = str(path) if path is not None else "RELAY_ROUTERS"
    raw = _read(path, "'--routers'") if path is not None else os.environ.get("RELAY_ROUTERS", "")
    try:
        routers = parse_routers(raw, setting)
        routers.check(setting, unknown)
    except RouterError as error:
        raise typer.BadParameter(str(error), param_hint="'--routers'") from None
    if not routers:
        raise typer.BadParameter(
            "no routers: pass --routers FILE or set RELAY_ROUTERS", param_hint="'--routers'"
        )
    return routers


def explain(routers: Routers, body: dict[str, Any], owner: str) -> dict[str, Any]:
    """The decision for `body` and each rule's verdict, in order, as plain data."""
    name = body.get("model")
    if not isinstance(name, str) or name not in routers.names():
        raise typer.BadParameter(
            f"the body's model {name!r} is not a router; routers: {', '.join(routers.names())}",
            param_hint="BODY",
        )
    decision = routers.decide(name, body, owner)
    assert decision is not None
    facts = Facts.of(body, owner)
    rules = []
    decided = False
    for rule in routers.routers[name].rules:
        missed = [] if decided else rule.when.misses(facts)
        verdict = "not reached" if decided else ("match" if not missed else "no")
        decided = decided or not missed
        rules.append({"rule": rule.name, "model": rule.model, "verdict": verdict, "missed": missed})
    return {
        "route": decision.label,
        "model": decision.model,
        "facts": {
            **{f: getattr(facts, f) for f in _FACTS},
            "last_user_chars": len(facts.last_user_text),
        },
        "rules": rules,
    }


def route(
    explain_body: Annotated[
        Path,
        typer.Option(
            "--explain",
            metavar="BODY.json",
            help="A Messages request body whose model is a router.",
        ),
    ],
    routers_file: Annotated[
        Path | None,
        typer.Option(
            "--routers", metavar="FILE", help="The routers' JSON. [default: RELAY_ROUTERS]"
        ),
    ] = None,
    owner: Annotated[str, typer.Option(help="The caller's key owner, for rules on `owners`.")] = "",
    json: Json = False,
) -> None:
    """Explain which rule of a router a request takes, offline.

    Example: relaykit route --explain body.json --routers routers.json
    """
    body = _read(explain_body, "'--explain'")
    if not isinstance(body, dict):
        raise typer.BadParameter("the body is not a JSON object", param_hint="'--explain'")
    report = explain(_routers(routers_file), body, owner)
    if json:
        emit_json(report)
        return
    facts = report["facts"]
    table(("fact", "value"), ((k, str(v).lower()) for k, v in facts.items()))
    print()
    rows = [
        (r["rule"], r["model"], r["verdict"], "; ".join(r["missed"]) or "-")
        for r in report["rules"]
    ]
    table(("rule", "model", "matched", "missed"), rows)
    print(f"\nroute: {report['route']} -> {report['model']}")
