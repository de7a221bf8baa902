"""`relaykit models`: the catalog as a table, so no document has to copy ids or prices.

The default view fits 100 columns; `--wide` adds the Bedrock and Vertex ids and every price,
`--json` gives all of it to scripts.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from relay.catalog import Model
from relay.catalog_extra import catalog_from_env
from relaykit.options import Json
from relaykit.output import emit_json, table

NARROW = ("alias", "state", "bedrock profiles", "context/out", "$/MTok in/out")
WIDE = (
    "alias",
    "anthropic id",
    "bedrock id",
    "vertex id",
    "state",
    "bedrock profiles",
    "context/out",
    "USD per MTok in/out/5m write/1h write/read",
)


def _profiles(model: Model) -> str:
    return ",".join(p.geography.value for p in model.inference_profiles) or "-"


def _window(model: Model) -> str:
    return f"{model.context_window // 1000}k/{model.max_output_tokens // 1000}k"


def narrow_row(model: Model) -> tuple[str, ...]:
    prices = model.prices
    return (
        model.alias,
        model.lifecycle.value,
        _profiles(model),
        _window(model),
        f"${prices.input}/${prices.output}",
    )


def wide_row(model: Model) -> tuple[str, ...]:
    prices = model.prices
    return (
        model.alias,
        model.anthropic_id,
        model.bedrock_id,
        model.vertex_id or "-",
        model.lifecycle.value,
        _profiles(model),
        _window(model),
        f"${prices.input}/${prices.output}/${prices.cache_write_5m}/${prices.cache_write_1h}"
        f"/${prices.cache_read}",
    )


def as_json(model: Model) -> dict[str, Any]:
    prices = model.prices
    return {
        "alias": model.alias,
        "name": model.name,
        "anthropic_id": model.anthropic_id,
        "bedrock_id": model.bedrock_id,
        "vertex_id": model.vertex_id,
        "lifecycle": model.lifecycle.value,
        "context_window": model.context_window,
        "max_output_tokens": model.max_output_tokens,
        "bedrock_in_region": list(model.bedrock_in_region),
        "inference_profiles": {
            p.geography.value: {
                "id": p.profile_id(model.bedrock_id),
                "source_regions": list(p.source_regions),
            }
            for p in model.inference_profiles
        },
        "usd_per_mtok": {
            "input": prices.input,
            "output": prices.output,
            "cache_write_5m": prices.cache_write_5m,
            "cache_write_1h": prices.cache_write_1h,
            "cache_read": prices.cache_read,
            "source": prices.source,
        },
        "regional_premium": model.regional_premium,
        "retirement": model.retirement,
    }


def models(
    wide: Annotated[
        bool, typer.Option("--wide", help="Add the Bedrock and Vertex ids and every price.")
    ] = False,
    json: Json = False,
) -> None:
    """List the model catalog: aliases, lifecycle, profiles, context and prices.

    Example: relaykit models --wide
    """
    # With RELAY_CATALOG_EXTRA's models, as the relay started here would serve them.
    catalog = catalog_from_env(os.environ).models
    if json:
        emit_json([as_json(m) for m in catalog])
    elif wide:
        table(WIDE, (wide_row(m) for m in catalog))
    else:
        table(NARROW, (narrow_row(m) for m in catalog))
