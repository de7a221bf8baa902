"""A plausible value built from a JSON schema (a tool's input schema, or the schema of a
structured output): required properties, typed, within the schema's bounds, `$ref`s to the
schema's own `$defs` followed."""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 6
# Values that pass the common string formats (pydantic checks them).
_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00",
    "email": "sample@example.com",
    "uri": "https://example.com/sample",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _first_type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        return next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def _follow(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """The schema a local `$ref` (`#/$defs/Name`, `#/definitions/Name`) points to."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part) if isinstance(target, dict) else None
    return target if isinstance(target, dict) else {}


def _string(schema: dict[str, Any], name: str) -> str:
    text = _FORMATS.get(str(schema.get("format")), f"sample {name}")
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text = text.ljust(low, "x")
    return text[:high] if isinstance(high, int) else text


def sample_value(schema: Any, name: str, depth: int = 0, root: dict[str, Any] | None = None) -> Any:
    """A value that fits `schema`: its default, const or first enum member, else by type.
    `root` is the document `$ref`s point into (the schema itself by default)."""
    if not isinstance(schema, dict):
        return f"sample {name}"
    root = root if root is not None else schema
    schema = _follow(schema, root)
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            # A nullable field (`anyOf: [X, null]`) gets an X.
            option = next((o for o in options if o != {"type": "null"}), options[0])
            return sample_value(option, name, depth, root)
    kind = _first_type(schema)
    if kind == "object" or (kind is None and "properties" in schema):
        return sample_object(schema, depth + 1, root) if depth < _MAX_DEPTH else {}
    if kind == "array":
        items = schema.get("items")
        count = max(1, int(schema.get("minItems", 1)))
        return [] if depth >= _MAX_DEPTH else [sample_value(items, name, depth + 1, root)] * count
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name)


def sample_object(
    schema: dict[str, Any], depth: int = 0, root: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An object with every required property of `schema` (optional ones are left out)."""
    root = root if root is not None else schema
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        return {}
    return {
        name: sample_value(properties.get(name), name, depth, root)
        for name in required
        if isinstance(name, str)
    }
