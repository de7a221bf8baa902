"""`relaykit models`: the catalog as a table, so no document has to copy ids or prices."""

from __future__ import annotations

from relay.catalog import CATALOG, Catalog, Model


def _row(model: Model) -> tuple[str, ...]:
    prices = model.prices
    return (
        model.alias,
        model.anthropic_id,
        model.bedrock_id,
        model.vertex_id or "-",
        model.lifecycle.value,
        ",".join(p.geography.value for p in model.inference_profiles) or "-",
        f"{model.context_window // 1000}k/{model.max_output_tokens // 1000}k",
        f"${prices.input}/${prices.output}/${prices.cache_write_5m}/${prices.cache_write_1h}"
        f"/${prices.cache_read}",
    )


HEADER = (
    "alias",
    "anthropic id",
    "bedrock id",
    "vertex id",
    "state",
    "bedrock profiles",
    "context/out",
    "USD per MTok in/out/5m write/1h write/read",
)


def table(catalog: Catalog = CATALOG) -> str:
    """The catalog (with RELAY_CATALOG_EXTRA's models, when the caller passes them)."""
    rows = [HEADER, *(_row(m) for m in catalog.models)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
