"""A backend that fails in an unforeseen way: the client gets Anthropic's 500, the request still
gets its one usage record, and its budget reservation is released."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from starlette.testclient import TestClient

from relay.app import create_app
from relay.catalog import DEFAULT_MODEL
from relay.keys import ApiKey
from relay.ledger import Admission
from relay.services import Services
from relay.settings import Settings, key_digest
from relay.usage import UsageRecord


class Broken:
    name = "broken"

    def invoke(self, call: object) -> object:
        raise RuntimeError("not an ApiError")

    stream = count_tokens = invoke


class BudgetedKeys:
    """Every key is known and has a daily budget, so requests reserve their cost."""

    blocking = False

    def find(self, digest: str) -> ApiKey:
        return ApiKey(key_id="rk_budgeted", owner="test", daily_usd=Decimal(1))


class RecordingLedger:
    blocking = False

    def __init__(self) -> None:
        self.settled: list[tuple[Admission, UsageRecord]] = []

    def admit(
        self,
        key: ApiKey,
        estimate_usd: Decimal,
        downgrades: Sequence[Decimal] = (),
        *,
        whole: bool = False,
    ) -> Admission:
        return Admission(key, reserved_usd=estimate_usd)

    def settle(self, admission: Admission, record: UsageRecord) -> None:
        self.settled.append((admission, record))


def test_an_unforeseen_backend_failure_is_a_500_and_still_metered() -> None:
    settings = Settings(bedrock_region="us-east-1", key_digests=frozenset({key_digest("k")}))
    services = Services.from_settings(settings)
    services.backends._built["bedrock", "us-east-1"] = Broken()  # type: ignore[assignment]
    ledger = RecordingLedger()
    services.ledger = ledger
    services.keys = BudgetedKeys()
    client = TestClient(create_app(settings, services), raise_server_exceptions=False)
    response = client.post(
        "/v1/messages",
        headers={"x-api-key": "k"},
        json={
            "model": DEFAULT_MODEL.alias,
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "api_error"
    ((admission, record),) = ledger.settled
    assert admission.reserved_usd > 0
    assert record.status == "unhandled"
    assert record.cost_usd == 0
