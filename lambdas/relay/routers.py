"""Router models: virtual model names whose requests an ordered list of rules sends to a served
model (`RELAY_ROUTERS`, the CDK context `relaykit.routers`).

    {"claude-auto": {
        "default": "claude-sonnet-4-5",
        "rules": [
            {"name": "long-tools", "model": "claude-sonnet-4-5",
             "when": {"tools": true, "min_input_tokens": 4000}},
            {"name": "short", "model": "claude-haiku-4-5", "when": {"max_input_tokens": 2000}}
        ]}}

The first rule all of whose conditions hold picks the model; none does, the default. Pure and
deterministic: the same request (and key owner) always takes the same rule, which the reply
names in `x-relay-route: <router>/<rule>`. Conditions read only the request's shape and counts;
the one regex runs over the last user turn's text and is never logged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from relay.pricing import estimate_input_tokens

DEFAULT_RULE = "default"


@dataclass(frozen=True)
class Facts:
    """What the rules may look at in one request (never logged: `last_user_text` is prompt)."""

    input_tokens: int
    max_tokens: int
    tools: bool
    images: bool
    documents: bool
    thinking: bool
    last_user_text: str
    owner: str = ""

    @classmethod
    def of(cls, body: Mapping[str, Any], owner: str = "") -> Facts:
        messages = body.get("messages")
        messages = messages if isinstance(messages, list) else []
        kinds = {block.get("type") for block in _blocks(messages)}
        thinking = body.get("thinking")
        max_tokens = body.get("max_tokens")
        return cls(
            # The budget's generous estimate (about 2 characters a token): deterministic and
            # free of a tokenizer, at about twice Claude's count for English prose.
            input_tokens=estimate_input_tokens(
                {k: v for k, v in body.items() if k in ("system", "messages", "tools")}
            ),
            max_tokens=max_tokens if isinstance(max_tokens, int) else 0,
            tools=bool(body.get("tools")),
            images="image" in kinds,
            documents="document" in kinds,
            thinking=isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"),
            last_user_text=_last_user_text(messages),
            owner=owner,
        )


def _blocks(value: object) -> list[dict[str, Any]]:
    """Every content block of the messages, tool results' blocks included."""
    found: list[dict[str, Any]] = []
    if isinstance(value, list):
        for item in value:
            found.extend(_blocks(item))
    elif isinstance(value, dict):
        if isinstance(value.get("type"), str):
            found.append(value)
        content = value.get("content")
        if isinstance(content, list):
            found.extend(_blocks(content))
    return found


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            texts = (b.get("text") for b in content if isinstance(b, dict))
            return "\n".join(t for t in texts if isinstance(t, str))
        return ""
    return ""


class Conditions(BaseModel):
    """All must hold for the rule to match; an absent condition always holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_input_tokens: int | None = Field(default=None, ge=0)
    max_input_tokens: int | None = Field(default=None, ge=0)
    min_max_tokens: int | None = Field(default=None, ge=0)
    max_max_tokens: int | None = Field(default=None, ge=0)
    tools: bool | None = None
    images: bool | None = None
    documents: bool | None = None
    thinking: bool | None = None
    # re.search over the last user turn's text (Python syntax), e.g. "(?i)\\b(prove|refactor)\\b".
    prompt_matches: str | None = None
    # The caller's key owner (`relaykit keys create --owner`) is one of these.
    owners: tuple[str, ...] | None = None

    @field_validator("prompt_matches")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a valid regular expression: {error}") from None
        return value

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.prompt_matches) if self.prompt_matches is not None else None

    def misses(self, facts: Facts) -> list[str]:
        """The conditions that do not hold, described without the prompt's text."""
        missed = []
        bounds = (
            ("min_input_tokens", facts.input_tokens, self.min_input_tokens, 1),
            ("max_input_tokens", facts.input_tokens, self.max_input_tokens, -1),
            ("min_max_tokens", facts.max_tokens, self.min_max_tokens, 1),
            ("max_max_tokens", facts.max_tokens, self.max_max_tokens, -1),
        )
        for name, value, bound, sign in bounds:
            if bound is not None and (value - bound) * sign < 0:
                missed.append(f"{name} {bound} (request: {value})")
        for name in ("tools", "images", "documents", "thinking"):
            wanted = getattr(self, name)
            if wanted is not None and getattr(facts, name) != wanted:
                missed.append(f"{name} {str(wanted).lower()}")
        if self._pattern is not None and not self._pattern.search(facts.last_user_text):
            missed.append("prompt_matches")
        if self.owners is not None and facts.owner not in self.owners:
            missed.append(f"owners {list(self.owners)}")
        return missed


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    model: str = Field(min_length=1)
    when: Conditions = Field(default_factory=Conditions)


class Router(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str = Field(min_length=1)
    rules: tuple[Rule, ...] = ()
    # The model savings are measured against ("everything at the model asked for"): by default
    # the dearest model the router can pick.
    baseline: str | None = None


@dataclass(frozen=True)
class Decision:
    router: str
    rule: str
    model: str

    @property
    def label(self) -> str:
        """The `x-relay-route` value."""
        return f"{self.router}/{self.rule}"


@dataclass(frozen=True)
class Routers:
    """The configured routers by name."""

    routers: Mapping[str, Router]

    def __bool__(self) -> bool:
        return bool(self.routers)

    def names(self) -> list[str]:
        return list(self.routers)

    def decide(self, name: str, body: Mapping[str, Any], owner: str = "") -> Decision | None:
        """The rule a request to `name` takes, or None when `name` is not a router."""
        router = self.routers.get(name)
        if router is None:
            return None
        facts = Facts.of(body, owner)
        rule = next((r for r in router.rules if not r.when.misses(facts)), None)
        if rule is None:
            return Decision(name, DEFAULT_RULE, router.default)
        return Decision(name, rule.name, rule.model)

    def targets(self, name: str) -> list[str]:
        """Every model a router can pick, rules first, the default last."""
        router = self.routers[name]
        return list(dict.fromkeys([*(r.model for r in router.rules), router.default]))

    def check(self, setting: str, known: Callable[[str], str | None]) -> None:
        """RouterError naming the router and rule whose model `known` rejects (it returns why)."""
        for name, router in self.routers.items():
            places = [(f"rules[{i}] ({r.name!r})", r.model) for i, r in enumerate(router.rules)]
            places.append(("default", router.default))
            if router.baseline is not None:
                places.append(("baseline", router.baseline))
            for place, model in places:
                problem = known(model)
                if problem is not None:
                    raise RouterError(f"{setting}[{name!r}].{place}: model {model!r}: {problem}")
            seen: set[str] = set()
            for i, rule in enumerate(router.rules):
                if rule.name in seen or rule.name == DEFAULT_RULE:
                    raise RouterError(
                        f"{setting}[{name!r}].rules[{i}] ({rule.name!r}): rule names must be "
                        f"unique and not {DEFAULT_RULE!r}"
                    )
                seen.add(rule.name)


class RouterError(ValueError):
    """The routers' configuration is invalid; the message names the router and the rule."""


_HELP = (
    'a JSON object from router name to {"default": MODEL, "rules": [{"name": NAME, "model": '
    'MODEL, "when": {CONDITIONS}}]}; conditions: ' + ", ".join(Conditions.model_fields)
)


def parse_routers(raw: str | Mapping[str, Any], setting: str = "RELAY_ROUTERS") -> Routers:
    """Routers from JSON text (the environment) or an object (CDK context); RouterError names
    the router, the rule and the field that is wrong."""
    if isinstance(raw, str):
        if not raw.strip():
            return Routers({})
        try:
            data = json.loads(raw)
        except ValueError:
            raise RouterError(f"{setting} is not valid JSON; it is {_HELP}") from None
    else:
        data = raw
    if not isinstance(data, Mapping) or not all(isinstance(k, str) and k for k in data):
        raise RouterError(f"{setting} must be {_HELP}")
    routers: dict[str, Router] = {}
    for name, spec in data.items():
        try:
            routers[name] = Router.model_validate(spec)
        except ValidationError as error:
            raise RouterError(_describe(setting, name, spec, error)) from None
    return Routers(routers)


def _describe(setting: str, name: str, spec: object, error: ValidationError) -> str:
    first = error.errors()[0]
    where = list(first["loc"])
    place = f"{setting}[{name!r}]"
    known = list(Router.model_fields)
    if len(where) >= 2 and where[0] == "rules" and isinstance(where[1], int):
        rules = spec.get("rules") if isinstance(spec, dict) else None
        rule = rules[where[1]] if isinstance(rules, list) and len(rules) > where[1] else None
        label = rule.get("name") if isinstance(rule, dict) else None
        place += f".rules[{where[1]}]" + (f" ({label!r})" if label else "")
        where = where[2:]
        known = list(Conditions.model_fields if where[:1] == ["when"] else Rule.model_fields)
    field = ".".join(str(part) for part in where)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown field; known: {', '.join(known)}"
    return f"{place}: {field + ': ' if field else ''}{message}"
