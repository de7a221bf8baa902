"""`relaykit local`: the quickstart's main job.

Starts the relay on localhost in front of the simulator (or real Bedrock), one line per step,
sends one message, one streamed message and (on the simulator) a small message batch through the
official anthropic SDK, prints replies,
usage and cost, where the keys table is, and the two lines that point any client at the relay,
then keeps serving until Ctrl-C (or stops, with --once, and says so).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import anthropic
from anthropic.types import Usage
from anthropic.types.messages.batch_create_params import Request

from relay.app import create_app
from relay.catalog import DEFAULT_MODEL, Routing
from relay.keys import key_id_of
from relay.log import logger
from relay.pricing import cost_usd
from relay.settings import Settings, key_digest
from relay.targets import bedrock_target
from relaykit.environment import LOCAL_TABLE, environment
from relaykit.failures import bind_failure
from relaykit.serve import table_lines
from relaykit.threaded import ThreadedServer

PROMPT = "In one sentence: what is this endpoint?"

# print-like: takes end= and flush= too.
Say = Callable[..., None]


@dataclass(frozen=True)
class LocalOptions:
    host: str
    port: int
    backend: str
    region: str
    routing: Routing
    # A fixed key to accept (without limits); None issues a key with limits from the table.
    key: str | None
    serve: bool


def run_local(options: LocalOptions, say: Say = print) -> None:
    fixed = frozenset({key_digest(options.key)}) if options.key else frozenset()
    settings = Settings(
        bedrock_region=options.region,
        routing=options.routing,
        key_digests=fixed,
        table_name=LOCAL_TABLE,
    )

    def step(what: str) -> None:
        say(f"... {what}", flush=True)

    with environment(options.backend, settings, step) as env:
        step("starting the relay")
        app = create_app(env.settings, env.services)
        server = ThreadedServer(app, host=options.host, port=options.port, name="relay")
        try:
            server.start()
        except OSError as error:
            raise bind_failure(error, options.port) from None
        try:
            say(f"Bedrock: {env.description}")
            say(f"Relay:   {server.url} (Anthropic Messages API)")
            if options.key:
                secret, key_id = options.key, key_id_of(key_digest(options.key))
            else:
                # Limits enough to try things, small enough to show them.
                secret, key = env.store.create_key(
                    "quickstart", rpm=60, tpm=200_000, daily_usd=Decimal(1), monthly_usd=Decimal(10)
                )
                key_id = key.key_id
                say(
                    f"Key:     {key_id} issued to 'quickstart' ({key.rpm} requests/min, "
                    f"{key.tpm} tokens/min, ${key.daily_usd}/day, ${key.monthly_usd}/month)"
                )
            for line in table_lines(env):
                say(line)
            say("")
            # The demo's own output says it all; access logs resume once it is done.
            level = logger.log_level
            logger.setLevel(logging.WARNING)
            try:
                demo(server.url, secret, options, say)
            finally:
                logger.setLevel(level)
            records = env.store.usage(key_id)
            spent = sum((r.cost_usd for r in records), Decimal(0))
            say(f"\nMetered: {len(records)} usage records for {key_id}, ${spent:.6f} in all")
            if not options.serve:
                say("\nStopped: --once ends here, and the embedded table goes with it.")
                say("Run `relaykit local` without --once to keep the relay serving.")
                return
            say("\nPoint any Anthropic client (SDKs, curl, Claude Code) at the relay:")
            say(f"  export ANTHROPIC_BASE_URL={server.url}")
            say(f"  export ANTHROPIC_API_KEY={secret}")
            say("\nServing until Ctrl-C.", flush=True)
            try:
                server.wait()
            except KeyboardInterrupt:
                say("\nStopped: the relay and the embedded table are gone.")
        finally:
            server.stop()


def demo(base_url: str, key: str, options: LocalOptions, say: Say) -> None:
    """One message and one streamed message with the anthropic SDK, as any developer would."""
    model = DEFAULT_MODEL
    premium = bedrock_target(model, options.region, options.routing).premium
    client = anthropic.Anthropic(base_url=base_url, api_key=key, max_retries=2)
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": PROMPT}]

    reply = client.messages.create(model=model.alias, max_tokens=200, messages=messages)
    text = "".join(block.text for block in reply.content if block.type == "text")
    say(f"1. messages.create({model.alias}):\n   {text}")
    say(f"   {_usage_line(reply.usage, cost_usd(model, reply.usage.model_dump(), premium))}")

    say(f"2. messages.stream({model.alias}):\n   ", end="")
    with client.messages.stream(model=model.alias, max_tokens=200, messages=messages) as stream:
        for piece in stream.text_stream:
            say(piece, end="", flush=True)
        final = stream.get_final_message()
    say("")
    say(f"   {_usage_line(final.usage, cost_usd(model, final.usage.model_dump(), premium))}")

    if options.backend != "simulator":
        return
    requests: list[Request] = [
        {
            "custom_id": f"demo-{n}",
            "params": {"model": model.alias, "max_tokens": 200, "messages": messages},
        }
        for n in (1, 2)
    ]
    batch = client.messages.batches.create(requests=requests)
    results = list(client.messages.batches.results(batch.id))
    succeeded = sum(1 for r in results if r.result.type == "succeeded")
    say(f"3. messages.batches.create(2 requests): {batch.id}, {batch.processing_status}")
    say(
        f"   {succeeded} of {len(results)} succeeded; fewer than Bedrock's minimum records per "
        "batch job, so they ran on demand at on-demand prices"
    )


def _usage_line(usage: Usage, cost: object) -> str:
    cached = usage.cache_read_input_tokens or 0
    return (
        f"usage: {usage.input_tokens} input, {usage.output_tokens} output, {cached} cache-read "
        f"tokens; cost ${cost:.6f}"
    )
