"""The model-access custom resource: idempotent, bounded, and actionable when it fails."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from model_access.handler import (
    ModelAccessError,
    dispatch,
    ensure_agreement,
    ensure_use_case,
    wait_until_authorized,
)
from relay.catalog import DEFAULT_MODEL

MODEL = DEFAULT_MODEL.bedrock_id


class ClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class FakeBedrock:
    """Answers like the bedrock control plane; `authorize_after` polls until AUTHORIZED."""

    def __init__(
        self, *, use_case: bool = True, agreement: str = "NOT_AVAILABLE", authorize_after: int = 0
    ) -> None:
        self.use_case = use_case
        self.agreement = agreement
        self.authorize_after = authorize_after
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_use_case_for_model_access(self) -> Mapping[str, Any]:
        self.calls.append(("get_use_case", {}))
        if not self.use_case:
            raise ClientError("ResourceNotFoundException")
        return {"formData": b"{}"}

    def put_use_case_for_model_access(self, *, formData: bytes) -> Mapping[str, Any]:
        self.calls.append(("put_use_case", json.loads(formData)))
        self.use_case = True
        return {}

    def get_foundation_model_availability(self, *, modelId: str) -> Mapping[str, Any]:
        self.calls.append(("availability", {"modelId": modelId}))
        polls = sum(1 for c in self.calls if c[0] == "availability")
        authorized = self.agreement == "AVAILABLE" and polls > self.authorize_after
        return {
            "modelId": modelId,
            "agreementAvailability": {"status": self.agreement},
            "authorizationStatus": "AUTHORIZED" if authorized else "NOT_AUTHORIZED",
            "entitlementAvailability": "AVAILABLE",
            "regionAvailability": "AVAILABLE",
        }

    def list_foundation_model_agreement_offers(
        self, *, modelId: str, offerType: str
    ) -> Mapping[str, Any]:
        self.calls.append(("offers", {"modelId": modelId, "offerType": offerType}))
        return {"modelId": modelId, "offers": [{"offerId": "o-1", "offerToken": "token-1"}]}

    def create_foundation_model_agreement(
        self, *, modelId: str, offerToken: str
    ) -> Mapping[str, Any]:
        self.calls.append(("agree", {"modelId": modelId, "offerToken": offerToken}))
        self.agreement = "AVAILABLE"
        return {"modelId": modelId}

    def put_model_invocation_logging_configuration(
        self, *, loggingConfig: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        self.calls.append(("put_logging", dict(loggingConfig)))
        return {}

    def delete_model_invocation_logging_configuration(self) -> Mapping[str, Any]:
        self.calls.append(("delete_logging", {}))
        return {}


def _event(request_type: str = "Create", **properties: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResourceType": "Custom::BedrockModelAccess",
        "LogicalResourceId": "ModelAccess",
        "ResourceProperties": {
            "Region": "us-east-1",
            "ModelIds": [MODEL],
            "WaitSeconds": 60,
            **properties,
        },
    }


def test_missing_use_case_form_is_filed_from_config() -> None:
    client = FakeBedrock(use_case=False)
    assert (
        ensure_use_case(client, {"companyName": "Example", "companyWebsite": "https://e.x"})
        == "submitted"
    )
    assert (
        "put_use_case",
        {"companyName": "Example", "companyWebsite": "https://e.x"},
    ) in client.calls


def test_missing_use_case_form_without_config_says_how_to_fix() -> None:
    with pytest.raises(ModelAccessError, match=r"relaykit\.modelAccess\.useCase"):
        ensure_use_case(FakeBedrock(use_case=False), {})


def test_existing_agreement_is_not_made_again() -> None:
    client = FakeBedrock(agreement="AVAILABLE")
    ensure_agreement(client, MODEL)
    assert not [c for c in client.calls if c[0] in ("offers", "agree")]


def test_missing_agreement_accepts_the_public_offer() -> None:
    client = FakeBedrock()
    ensure_agreement(client, MODEL)
    assert ("offers", {"modelId": MODEL, "offerType": "PUBLIC"}) in client.calls
    assert ("agree", {"modelId": MODEL, "offerToken": "token-1"}) in client.calls


def test_waits_until_authorized() -> None:
    client = FakeBedrock(agreement="AVAILABLE", authorize_after=2)
    slept: list[float] = []
    states = wait_until_authorized(client, [MODEL], 600, sleep=slept.append)
    assert all(s.ready for s in states)
    assert len(slept) == 2


def test_gives_up_at_the_deadline_with_an_actionable_message() -> None:
    client = FakeBedrock(agreement="PENDING")
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(ModelAccessError, match=r"not yet AUTHORIZED after \d+ s.*deploy again"):
        wait_until_authorized(client, [MODEL], 60, clock=lambda: now[0], sleep=sleep)


def test_create_runs_every_step_and_is_idempotent() -> None:
    client = FakeBedrock(use_case=False)
    use_case = {"companyName": "Example", "companyWebsite": "https://e.x", "industryOption": "Tech"}
    physical, data = dispatch(_event(UseCase=use_case), client, 600)
    assert data["Models"] == MODEL
    assert data["UseCase"] == "submitted"
    again = FakeBedrock(use_case=True, agreement="AVAILABLE")
    assert (
        dispatch(_event("Update", UseCase=use_case) | {"PhysicalResourceId": physical}, again, 600)[
            0
        ]
        == physical
    )
    assert not [c for c in again.calls if c[0] in ("put_use_case", "agree")]


def test_delete_leaves_agreements_alone() -> None:
    client = FakeBedrock()
    dispatch(_event("Delete") | {"PhysicalResourceId": "x"}, client, 600)
    assert client.calls == []
