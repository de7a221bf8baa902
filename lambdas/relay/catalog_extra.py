"""An operator's additions to the model catalog, from JSON (`RELAY_CATALOG_EXTRA`, or the CDK
context block `relaykit.catalogExtra`), so a new Claude model needs no release of the kit.

The JSON is an object from model alias to the model's facts. An alias the shipped catalog has
overrides the facts given and keeps the others; a new alias adds a model, either from scratch or
starting from a shipped one (`"base": "claude-opus-4-6"`). Example:

    {"claude-opus-4-8": {"base": "claude-opus-4-6", "name": "Claude Opus 4.8",
      "bedrock_id": "anthropic.claude-opus-4-8", "released": "2026-11-20",
      "inference_profiles": {"global": ["us-east-1", "eu-west-1"], "us": ["us-east-1"]},
      "source": "https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-..."}}

Errors name the field (`claude-opus-4-8.prices.input`) and what it must be.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relay.catalog import (
    CATALOG,
    GEOGRAPHY_REGIONS,
    Catalog,
    Geography,
    InferenceProfile,
    Lifecycle,
    Model,
    Prices,
    UnknownModelError,
)

_ID = Annotated[str, Field(min_length=1, max_length=200)]
_TOKENS = Annotated[int, Field(ge=1)]
_USD = Annotated[Decimal, Field(ge=0)]


class CatalogExtraError(ValueError):
    """The catalog extension is invalid; the message names the field and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Prices(_Strict):
    input: _USD
    output: _USD
    cache_write_5m: _USD
    cache_write_1h: _USD
    cache_read: _USD


class _Profile(_Strict):
    sources: list[_ID]
    destinations: list[_ID] | None = None


class _Entry(_Strict):
    """One model's facts; every field but those of a new model without `base` is optional."""

    base: _ID | None = None
    name: _ID | None = None
    anthropic_id: _ID | None = None
    bedrock_id: _ID | None = None
    vertex_id: _ID | None = None
    context_window: _TOKENS | None = None
    max_output_tokens: _TOKENS | None = None
    prices: _Prices | None = None
    lifecycle: Lifecycle | None = None
    # Geography (global, us, eu, apac, jp, au) -> source regions, or {sources, destinations}.
    inference_profiles: dict[Geography, list[_ID] | _Profile] | None = None
    bedrock_in_region: list[_ID] | None = None
    vertex_regions: list[_ID] | None = None
    regional_premium: Annotated[Decimal, Field(ge=0, le=1)] | None = None
    released: date | None = None
    structured_outputs: bool | None = None
    effort: bool | None = None
    adaptive_thinking: bool | None = None
    mid_conversation_system: bool | None = None
    bedrock_count_tokens: bool | None = None
    # Where the facts were read: kept as the model's docs, lifecycle and price source.
    source: Annotated[str, Field(min_length=1)]


_NEW_MODEL_NEEDS = ("name", "bedrock_id", "context_window", "max_output_tokens", "prices")
_COPIED = (
    "name",
    "anthropic_id",
    "bedrock_id",
    "vertex_id",
    "context_window",
    "max_output_tokens",
    "lifecycle",
    "bedrock_in_region",
    "vertex_regions",
    "regional_premium",
    "released",
    "structured_outputs",
    "effort",
    "adaptive_thinking",
    "mid_conversation_system",
    "bedrock_count_tokens",
)


SETTING = "RELAY_CATALOG_EXTRA"


def catalog_from_env(env: Mapping[str, str]) -> Catalog:
    """The shipped catalog with the RELAY_CATALOG_EXTRA models of `env` (relay and CLI alike)."""
    return parse_catalog_extra(env.get(SETTING, ""), SETTING)


def parse_catalog_extra(raw: str, setting: str, catalog: Catalog = CATALOG) -> Catalog:
    """`catalog` with the models `raw` (JSON) adds or overrides; `setting` names the source of
    `raw` in errors (RELAY_CATALOG_EXTRA, relaykit.catalogExtra)."""
    if not raw.strip():
        return catalog
    try:
        data = json.loads(raw)
    except ValueError:
        raise CatalogExtraError(f"{setting} is not valid JSON") from None
    return extend(data, setting, catalog)


def extend(data: object, setting: str, catalog: Catalog = CATALOG) -> Catalog:
    """`catalog` with the models of `data` (decoded JSON) added or overridden."""
    if not isinstance(data, dict):
        raise CatalogExtraError(f"{setting} must be a JSON object from model alias to its facts")
    models = [_model(str(alias), facts, setting, catalog) for alias, facts in data.items()]
    try:
        return catalog.with_models(models)
    except ValueError as error:
        raise CatalogExtraError(f"{setting}: {error}") from None


def _model(alias: str, facts: Any, setting: str, catalog: Catalog) -> Model:
    try:
        entry = _Entry.model_validate(facts)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in (alias, *first["loc"]))
        raise CatalogExtraError(f"{setting}.{where}: {first['msg']}") from None
    base = _base(alias, entry, setting, catalog)
    if base is None:
        missing = [name for name in _NEW_MODEL_NEEDS if getattr(entry, name) is None]
        if missing:
            raise CatalogExtraError(
                f"{setting}.{alias}: a new model needs {', '.join(missing)} "
                "(or 'base' naming a catalog model to start from)"
            )
    changes: dict[str, Any] = {
        name: tuple(value) if isinstance(value, list) else value
        for name in _COPIED
        if (value := getattr(entry, name)) is not None
    }
    if entry.prices is not None:
        changes["prices"] = Prices(**entry.prices.model_dump(), source=entry.source)
    if entry.inference_profiles is not None:
        changes["inference_profiles"] = _profiles(entry.inference_profiles, entry.source)
    changes |= {"alias": alias, "lifecycle_source": entry.source, "docs": entry.source}
    if entry.released is not None:
        changes["released_source"] = entry.source
    if base is None:
        return Model(
            anthropic_id=changes.pop("anthropic_id", alias),
            vertex_id=changes.pop("vertex_id", None),
            lifecycle=changes.pop("lifecycle", Lifecycle.ACTIVE),
            inference_profiles=changes.pop("inference_profiles", ()),
            **changes,
        )
    if base.alias != alias:
        if entry.bedrock_id is None:
            raise CatalogExtraError(f"{setting}.{alias}.bedrock_id: a new model needs its own")
        # A new model copies the facts of its base (limits, prices, capabilities), not the
        # names that find the base nor where the base is offered.
        fresh: dict[str, Any] = {
            "name": alias,
            "anthropic_id": alias,
            "vertex_id": None,
            "inference_profiles": (),
            "bedrock_in_region": (),
            "vertex_regions": (),
            "misnamed_ids": (),
            "extra_aliases": (),
            "bedrock_count_tokens": False,
        }
        changes = fresh | changes
    return dataclasses.replace(base, **changes)


def _base(alias: str, entry: _Entry, setting: str, catalog: Catalog) -> Model | None:
    name = entry.base or alias
    try:
        model = catalog.by_alias(name)
    except UnknownModelError:
        if entry.base is None:
            return None
        raise CatalogExtraError(
            f"{setting}.{alias}.base: unknown model {name!r}; catalog aliases: "
            + ", ".join(m.alias for m in catalog.models)
        ) from None
    return model


def _profiles(
    profiles: dict[Geography, list[str] | _Profile], source: str
) -> tuple[InferenceProfile, ...]:
    out = []
    for geography, given in profiles.items():
        sources = given if isinstance(given, list) else given.sources
        destinations = given.destinations if isinstance(given, _Profile) else None
        if destinations is None:
            # As in the shipped catalog: a geography's every region; global lists none.
            destinations = list(GEOGRAPHY_REGIONS.get(geography, ()))
        out.append(InferenceProfile(geography, tuple(sources), tuple(destinations), source))
    return tuple(out)
