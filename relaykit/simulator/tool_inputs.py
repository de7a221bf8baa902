"""A plausible tool input built from a tool's JSON schema: its required properties, typed."""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 4


def _first_type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        return next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def sample_value(schema: Any, name: str, depth: int = 0) -> Any:
    """A value that fits `schema`: its default, const or first enum member, else by type."""
    if not isinstance(schema, dict):
        return f"sample {name}"
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return sample_value(options[0], name, depth)
    kind = _first_type(schema)
    if kind == "object" or (kind is None and "properties" in schema):
        return sample_object(schema, depth + 1) if depth < _MAX_DEPTH else {}
    if kind == "array":
        items = schema.get("items")
        count = max(1, int(schema.get("minItems", 1)))
        return [] if depth >= _MAX_DEPTH else [sample_value(items, name, depth + 1)] * count
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return f"sample {name}"


def sample_object(schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """An object with every required property of `schema` (optional ones are left out)."""
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        return {}
    return {
        name: sample_value(properties.get(name), name, depth)
        for name in required
        if isinstance(name, str)
    }
