"""Chaos: every simulator fault kind, and a table outage, against the relay with its table.

For each kind: requests sent, succeeded, failed with a clear error (Anthropic's shape, as a
status or a final `error` event) and lost (anything else: a cut connection, a stream that ends
without message_stop or error). Lost must be 0, and every request that reached the simulator
must have exactly one usage record. Bounded: a dozen requests per kind, sub-second timeouts.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import anthropic
import pytest
from relay_harness import start_relay
from relay_wire import KEY, user

from relay.catalog import DEFAULT_MODEL
from relay.dynamo import DynamoStore
from relay.errors import ErrorType
from relay.keys import key_id_of
from relay.settings import key_digest, parse_fallbacks
from relay.spool import FileSpool, replay
from relaykit.local_aws import LocalAws
from relaykit.simulator import SimulatorConfig, SimulatorServer
from relaykit.table import create_table
from relaykit.threaded import ThreadedServer

MODEL = DEFAULT_MODEL.alias
KEY_ID = key_id_of(key_digest(KEY))
TABLE = "relay-test"
READ_TIMEOUT = 0.3
STALL = 1.0
PER_KIND = 12
ANTHROPIC_ERRORS = {kind.value for kind in ErrorType}


@dataclass
class Chaos:
    url: str
    simulator: SimulatorServer
    store: DynamoStore
    spool: FileSpool
    aws: LocalAws

    def client(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.url, api_key=KEY, max_retries=0, timeout=30)

    @contextlib.contextmanager
    def table_outage(self) -> Iterator[None]:
        """The embedded AWS stopped, then started again on its port (moto's state lives in the
        process, so the table comes back as it was)."""
        port = int(self.aws.endpoint_url.rsplit(":", 1)[1])
        self.aws.stop()
        try:
            yield
        finally:
            self.aws = LocalAws(port=port).start()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    spool = FileSpool(tmp_path_factory.mktemp("spool") / "usage.jsonl")
    aws = LocalAws(port=free_port()).start()
    chaos: Chaos | None = None
    try:
        with SimulatorServer() as simulator:
            client = aws.session().client("dynamodb", endpoint_url=aws.endpoint_url)
            create_table(client, TABLE)
            server: ThreadedServer = start_relay(
                simulator,
                aws,
                read_timeout=READ_TIMEOUT,
                retry_attempts=2,
                retry_base_delay=0.01,
                retry_max_delay=0.02,
                breaker_threshold=1000,
                fallbacks=parse_fallbacks(json.dumps({MODEL: ["bedrock:us-west-2"]})),
                usage_spool=str(spool.path),
            )
            chaos = Chaos(server.url, simulator, DynamoStore(client, TABLE), spool, aws)
            try:
                yield chaos
            finally:
                server.stop()
    finally:
        (chaos.aws if chaos is not None else aws).stop()


@dataclass
class Tally:
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    lost: int = 0


def one(chaos: Chaos, n: int, stream: bool) -> str:
    """'ok', 'failed' (a clear error in Anthropic's shape) or 'lost'."""
    client = chaos.client()
    try:
        if stream:
            with client.messages.stream(
                model=MODEL, max_tokens=8, messages=user(f"chaos {n}")
            ) as events:
                kinds = [event.type for event in events]
            return "ok" if kinds and kinds[-1] == "message_stop" else "lost"
        client.messages.create(model=MODEL, max_tokens=8, messages=user(f"chaos {n}"))
        return "ok"
    except anthropic.APIStatusError as error:
        body = error.body if isinstance(error.body, dict) else {}
        kind = body.get("error", {}).get("type") if body.get("type") == "error" else None
        return "failed" if kind in ANTHROPIC_ERRORS else "lost"
    except Exception:
        return "lost"


def run(chaos: Chaos, count: int, stream: Callable[[int], bool]) -> Tally:
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda n: one(chaos, n, stream(n)), range(count)))
    return Tally(
        len(outcomes), outcomes.count("ok"), outcomes.count("failed"), outcomes.count("lost")
    )


def records_settle(chaos: Chaos, expected: int) -> int:
    """The key's usage records, waiting briefly for those settled after a stream ended."""
    deadline = time.monotonic() + 15
    while True:
        found = len(chaos.store.usage(KEY_ID))
        if found >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def both(n: int) -> bool:
    return n % 2 == 1


def streamed(n: int) -> bool:
    return True


KINDS: dict[str, tuple[SimulatorConfig, list[str], Callable[[int], bool]]] = {
    "throttling": (SimulatorConfig(throttle_rate=0.5, seed=3), [], both),
    "5xx": (SimulatorConfig(server_error_rate=0.5, seed=4), [], both),
    "overload": (SimulatorConfig(), ["unavailable"] * PER_KIND * 2, both),
    "model timeout": (SimulatorConfig(timeout_rate=0.5, seed=5), [], both),
    "timeout before first byte": (SimulatorConfig(time_to_first_token=STALL), [], streamed),
    "timeout after first byte": (SimulatorConfig(tokens_per_second=1 / STALL), [], streamed),
    "slow tokens": (SimulatorConfig(tokens_per_second=100), [], streamed),
    "mid-stream drop": (SimulatorConfig(), ["mid_stream", "mid_stream_internal"] * 4, streamed),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_request_is_lost_and_each_has_one_record(chaos, kind: str) -> None:
    config, faults, stream = KINDS[kind]
    state = chaos.simulator.state
    state.config = config
    state.reset()
    state.faults.inject(faults)
    before = len(chaos.store.usage(KEY_ID))
    try:
        tally = run(chaos, PER_KIND, stream)
    finally:
        state.config = SimulatorConfig()
        state.reset()
    print(f"{kind:28} {tally}")
    assert tally.lost == 0
    assert tally.succeeded + tally.failed == tally.sent == PER_KIND
    # Every request reached the simulator (no limits refuse one): one record each.
    assert records_settle(chaos, before + PER_KIND) - before == PER_KIND


def test_a_table_outage_mid_run_loses_no_record(chaos) -> None:
    before = len(chaos.store.usage(KEY_ID))
    tallies = [run(chaos, 6, both)]
    with chaos.table_outage():
        tallies.append(run(chaos, 6, both))
    tallies.append(run(chaos, 6, both))
    for tally in tallies:
        print(f"table outage {tally}")
        assert (tally.succeeded, tally.lost) == (6, 0)
    # The records of the outage waited in the spool; replayed, each request has its one.
    spooled = len(chaos.spool.path.read_text().splitlines())
    assert spooled >= 6
    assert replay(chaos.spool, chaos.store.settle) == (spooled, 0)
    assert records_settle(chaos, before + 18) - before == 18
