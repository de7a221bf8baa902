"""`relaykit invoke`: a smoke test of a relay with the official SDKs, as a developer would call it.

One message and one streamed message with the anthropic SDK (and, with --openai, one Chat
Completion with the openai SDK); each line shows latency, time to first token, tokens, cost (from
the catalog) and the relay's `x-relay-*` headers. Any failure exits 1 with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated

import httpx
import typer

from relay.catalog import DEFAULT_MODEL, Model, UnknownModelError, by_alias, resolve
from relay.pricing import cost_usd
from relaykit.endpoints import Endpoint, Local, Stack, StackRegion, resolve_endpoint
from relaykit.failures import Failure
from relaykit.output import usd

PROMPT = "Reply with one short sentence: is this relay working?"


def relay_headers(headers: Mapping[str, str]) -> str:
    shown = [
        f"{name}={value}" for name, value in sorted(headers.items()) if name.startswith("x-relay-")
    ]
    return " ".join(shown) or "(no x-relay-* headers: is this the relay?)"


def _cost(model_name: str, usage: Mapping[str, object], headers: Mapping[str, str]) -> Decimal:
    try:
        model = resolve(model_name).model
    except UnknownModelError:
        return Decimal(0)
    # Global profiles carry no regional premium; the relay says which id it invoked.
    premium = not headers.get("x-relay-model-id", "global.").startswith("global.")
    return cost_usd(model, usage, premium)


def _call_failed(what: str, url: str, error: Exception) -> Failure:
    import anthropic
    import openai

    if isinstance(
        error, anthropic.APIConnectionError | openai.APIConnectionError | httpx.TransportError
    ):
        return Failure(f"{what}: cannot reach {url}: is the relay running? (relaykit status)")
    if isinstance(error, anthropic.APIStatusError | openai.APIStatusError):
        return Failure(f"{what}: HTTP {error.status_code}: {error.message}")
    return Failure(f"{what}: {type(error).__name__}: {error}")


def smoke_test(url: str, key: str, model: Model, openai_too: bool) -> list[str]:
    """The report lines of the calls; Failure on the first call that fails."""
    import anthropic

    client = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, timeout=60)
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": PROMPT}]
    lines = []
    what = f"messages.create({model.alias})"
    try:
        started = time.perf_counter()
        raw = client.messages.with_raw_response.create(
            model=model.alias, max_tokens=100, messages=messages
        )
        reply = raw.parse()
        elapsed = (time.perf_counter() - started) * 1000
    except Exception as error:
        raise _call_failed(what, url, error) from None
    cost = _cost(reply.model, reply.usage.model_dump(), raw.headers)
    lines.append(
        f"ok  {what}: {elapsed:.0f} ms, {reply.usage.input_tokens} in + "
        f"{reply.usage.output_tokens} out tokens, {usd(cost)}\n    {relay_headers(raw.headers)}"
    )
    what = f"messages.stream({model.alias})"
    try:
        started = time.perf_counter()
        first: float | None = None
        with client.messages.stream(model=model.alias, max_tokens=100, messages=messages) as stream:
            for _ in stream.text_stream:
                first = first or (time.perf_counter() - started) * 1000
            final = stream.get_final_message()
            headers = stream.response.headers
        elapsed = (time.perf_counter() - started) * 1000
    except Exception as error:
        raise _call_failed(what, url, error) from None
    cost = _cost(final.model, final.usage.model_dump(), headers)
    ttft = f"first token {first:.0f} ms, " if first is not None else "no text, "
    lines.append(
        f"ok  {what}: {ttft}{elapsed:.0f} ms, {final.usage.input_tokens} in + "
        f"{final.usage.output_tokens} out tokens, {usd(cost)}\n    {relay_headers(headers)}"
    )
    if openai_too:
        lines.append(_openai_call(url, key, model))
    return lines


def _openai_call(url: str, key: str, model: Model) -> str:
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60)
    what = f"chat.completions.create({model.alias})"
    try:
        started = time.perf_counter()
        raw = client.chat.completions.with_raw_response.create(
            model=model.alias, max_tokens=100, messages=[{"role": "user", "content": PROMPT}]
        )
        completion = raw.parse()
        elapsed = (time.perf_counter() - started) * 1000
    except Exception as error:
        raise _call_failed(what, url, error) from None
    usage = completion.usage
    tokens = (
        f"{usage.prompt_tokens} in + {usage.completion_tokens} out tokens" if usage else "no usage"
    )
    return f"ok  {what}: {elapsed:.0f} ms, {tokens}\n    {relay_headers(raw.headers)}"


def invoke(
    endpoint: Endpoint = None,
    stack: Stack = None,
    region: StackRegion = None,
    local: Local = False,
    key: Annotated[
        str | None,
        typer.Option(envvar="ANTHROPIC_API_KEY", help="The relay key (or ANTHROPIC_API_KEY)."),
    ] = None,
    model: Annotated[str, typer.Option(help="A catalog alias.")] = DEFAULT_MODEL.alias,
    openai: Annotated[
        bool, typer.Option("--openai", help="Also call Chat Completions with the openai SDK.")
    ] = False,
) -> None:
    """Smoke-test a relay: a message and a streamed one with the anthropic SDK, timed and priced.

    Example: relaykit invoke --stack ClaudeRelay-Relay-Primary --key "$ANTHROPIC_API_KEY" --openai
    """
    try:
        chosen = by_alias(model)
    except UnknownModelError:
        raise typer.BadParameter(
            f"{model!r} is not a catalog model (`relaykit models`)", param_hint="'--model'"
        ) from None
    url = resolve_endpoint(endpoint, stack, region, local)
    if not key:
        raise Failure(
            "no key: pass --key or export ANTHROPIC_API_KEY (relaykit keys create issues one)"
        )
    print(f"relay: {url}")
    for line in smoke_test(url, key, chosen, openai):
        print(line, flush=True)
