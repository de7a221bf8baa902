"""The relay's log: one JSON line per request, with its usage record nested, never content."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from relay.catalog import DEFAULT_MODEL
from relay.ledger import log_usage
from relay.log import SERVICE, LeanFormatter, logger
from relay.usage import UsageRecord

SECRET = "pelican-umbrella-7731"


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """What the relay's logger writes from now on (its handler kept the stderr of import time)."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def lines(written: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in written.getvalue().splitlines()]


def ask(relay: Any, *, stream: bool = False) -> None:
    messages = [{"role": "user", "content": f"my secret is {SECRET}"}]
    client = relay.client()
    if stream:
        with client.messages.stream(
            model=DEFAULT_MODEL.alias, max_tokens=64, messages=messages
        ) as s:
            s.until_done()
    else:
        client.messages.create(model=DEFAULT_MODEL.alias, max_tokens=64, messages=messages)


@pytest.mark.parametrize("stream", [False, True])
def test_a_request_writes_one_line_with_its_usage_record(relay, written, stream):
    ask(relay, stream=stream)

    logged = lines(written)
    assert [line["message"] for line in logged] == ["request"]
    line = logged[0]
    assert line["status"] == 200
    assert line["stream"] is stream
    assert line["service"] == SERVICE
    usage = line["usage"]
    assert usage["request_id"] == line["request_id"]
    assert usage["status"] == "ok"
    assert usage["output_tokens"] == line["output_tokens"] > 0
    assert Decimal(usage["cost_usd"]) > 0


def test_the_line_holds_no_prompt_or_completion(relay, written):
    ask(relay)

    assert SECRET not in written.getvalue()


def record() -> UsageRecord:
    return UsageRecord(
        request_id="req_x",
        key_id="rk_1",
        model=DEFAULT_MODEL.anthropic_id,
        backend="bedrock/us-east-1",
        model_id=DEFAULT_MODEL.bedrock_id,
        status="ok",
        output_tokens=35,
        cost_usd=Decimal("0.000183"),
    )


def test_a_usage_record_outside_a_request_gets_a_line_of_its_own(written):
    log_usage(record())

    logged = lines(written)
    assert [line["message"] for line in logged] == ["usage"]
    assert logged[0]["cost_usd"] == "0.000183"


def test_the_formatter_writes_powertools_keys_and_the_exception():
    formatter = LeanFormatter(SERVICE)
    try:
        raise ValueError("boom")
    except ValueError:
        entry = logging.LogRecord(
            "relay", logging.ERROR, __file__, 1, "failed", (), sys.exc_info(), "here"
        )
    entry.request_id = "req_1"  # as `extra` sets it

    line = json.loads(formatter.format(entry))

    assert line["level"] == "ERROR"
    assert line["location"] == "here:1"
    assert line["message"] == "failed"
    assert line["service"] == SERVICE
    assert line["request_id"] == "req_1"
    assert line["exception_name"] == "ValueError"
    assert "boom" in line["exception"]
    assert line["timestamp"].endswith("Z")
