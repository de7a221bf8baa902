"""CloudFormation custom resources for what Bedrock has no resource type for.

`Custom::BedrockModelAccess` makes sure the account may invoke the configured models in this
region: it files Anthropic's one-time use-case form if none is on file (PutUseCaseForModelAccess),
accepts each model's public Marketplace offer if there is no agreement yet
(ListFoundationModelAgreementOffers, CreateFoundationModelAgreement), then waits, bounded, until
GetFoundationModelAvailability reports AUTHORIZED. Every step is idempotent, so a failed or
timed-out deploy is fixed by deploying again. Deleting the resource leaves the agreements alone:
other workloads in the account may rely on them.

`Custom::BedrockInvocationLogging` sets the region's model invocation logging configuration
(CloudWatch Logs, text only). That configuration is one per account and region, so it reads what
is there first: none, or ours already, is fine; a different one (say a central S3 audit setup)
is refused unless the `TakeOver` property is set, and then remembered in the physical id. On
delete, including a rollback, it restores what was there (or removes ours), and leaves the
configuration alone if someone else has changed it since.

Only the standard library and the runtime's boto3 are used; the client is injected for tests.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

POLL_SECONDS = 10
# Leave this much of the Lambda's time to report the outcome to CloudFormation.
REPORT_MARGIN_SECONDS = 30
_FIX_SUBSCRIPTION = (
    "The AWS Marketplace subscription behind a model can take up to 15 minutes; deploy again "
    "(this step is idempotent). If it persists, the deploying account needs a valid payment "
    "method and this function's role aws-marketplace:Subscribe and ViewSubscriptions."
)


class ModelAccessError(Exception):
    """Access cannot be confirmed; the message says what to do."""


class BedrockControl(Protocol):
    """The part of the boto3 `bedrock` client used here."""

    def get_use_case_for_model_access(self) -> Mapping[str, Any]: ...
    def put_use_case_for_model_access(self, *, formData: bytes) -> Mapping[str, Any]: ...
    def get_foundation_model_availability(self, *, modelId: str) -> Mapping[str, Any]: ...
    def list_foundation_model_agreement_offers(
        self,
        *,
        modelId: str,
        offerType: str,
    ) -> Mapping[str, Any]: ...
    def create_foundation_model_agreement(
        self,
        *,
        modelId: str,
        offerToken: str,
    ) -> Mapping[str, Any]: ...
    def put_model_invocation_logging_configuration(
        self,
        *,
        loggingConfig: Mapping[str, Any],
    ) -> Mapping[str, Any]: ...
    def delete_model_invocation_logging_configuration(self) -> Mapping[str, Any]: ...
    def get_model_invocation_logging_configuration(self) -> Mapping[str, Any]: ...


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class Availability:
    model_id: str
    authorized: bool
    agreement: str
    entitled: bool
    in_region: bool
    message: str

    @classmethod
    def of(cls, model_id: str, response: Mapping[str, Any]) -> Availability:
        agreement = response.get("agreementAvailability", {})
        return cls(
            model_id,
            response.get("authorizationStatus") == "AUTHORIZED",
            str(agreement.get("status", "NOT_AVAILABLE")),
            response.get("entitlementAvailability") == "AVAILABLE",
            response.get("regionAvailability") != "NOT_AVAILABLE",
            str(agreement.get("errorMessage", "")),
        )

    @property
    def ready(self) -> bool:
        return self.authorized and self.agreement == "AVAILABLE" and self.entitled


def ensure_use_case(client: BedrockControl, form: Mapping[str, str]) -> str:
    """File the use-case form unless one is on file; 'on-file' or 'submitted'."""
    try:
        client.get_use_case_for_model_access()
        return "on-file"
    except Exception as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
    if not form.get("companyName"):
        raise ModelAccessError(
            "Anthropic models need the one-time use-case form and none is on file for this "
            "account: set relaykit.modelAccess.useCase (companyName, companyWebsite, "
            "industryOption, useCases) in cdk.json, or submit it once in the Bedrock console."
        )
    client.put_use_case_for_model_access(formData=json.dumps(dict(form)).encode())
    return "submitted"


def ensure_agreement(client: BedrockControl, model_id: str) -> Availability:
    """Accept the model's public offer unless an agreement exists or is pending."""
    availability = Availability.of(
        model_id, client.get_foundation_model_availability(modelId=model_id)
    )
    if not availability.in_region:
        raise ModelAccessError(
            f"{model_id} is not offered in this region; deploy the Bedrock access stack to a "
            "region that serves it, or change the relay's routing."
        )
    if availability.agreement in ("AVAILABLE", "PENDING"):
        return availability
    offers = client.list_foundation_model_agreement_offers(modelId=model_id, offerType="PUBLIC")
    tokens = [o["offerToken"] for o in offers.get("offers", ()) if o.get("offerToken")]
    if not tokens:
        raise ModelAccessError(f"{model_id} has no public offer to accept in this region.")
    try:
        client.create_foundation_model_agreement(modelId=model_id, offerToken=tokens[0])
    except Exception as error:
        if _error_code(error) != "ConflictException":
            raise
    return availability


def wait_until_authorized(
    client: BedrockControl,
    model_ids: Sequence[str],
    deadline_seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Availability]:
    start = clock()
    while True:
        states = [
            Availability.of(m, client.get_foundation_model_availability(modelId=m))
            for m in model_ids
        ]
        failed = [s for s in states if s.agreement == "ERROR"]
        if failed:
            raise ModelAccessError(
                "; ".join(
                    f"{s.model_id}: agreement failed: {s.message or 'no reason'}" for s in failed
                )
                + ". "
                + _FIX_SUBSCRIPTION
            )
        waiting = [s for s in states if not s.ready]
        if not waiting:
            return states
        elapsed = clock() - start
        if elapsed + POLL_SECONDS > deadline_seconds:
            detail = ", ".join(
                f"{s.model_id} (agreement {s.agreement}, "
                f"{'authorized' if s.authorized else 'not authorized'})"
                for s in waiting
            )
            raise ModelAccessError(
                f"not yet AUTHORIZED after {int(elapsed)} s: {detail}. {_FIX_SUBSCRIPTION}"
            )
        sleep(POLL_SECONDS)


def model_access(
    client: BedrockControl, properties: Mapping[str, Any], remaining_seconds: float
) -> dict[str, str]:
    model_ids = list(properties["ModelIds"])
    if any(m.startswith("anthropic.") for m in model_ids):
        use_case = ensure_use_case(client, properties.get("UseCase") or {})
    else:
        use_case = "not-needed"
    for model_id in model_ids:
        ensure_agreement(client, model_id)
    deadline = min(float(properties.get("WaitSeconds", 600)), remaining_seconds)
    wait_until_authorized(client, model_ids, deadline)
    return {"Models": ",".join(model_ids), "UseCase": use_case}


# The physical id says what to restore on delete: nothing was there, or this (compressed) config.
_PRIOR_NONE = "invocation-logging:prior=none"
_PRIOR_PREFIX = "invocation-logging:prior="
_REFUSED = "invocation-logging:refused"
# CloudFormation keeps physical ids up to 1 KB.
_PHYSICAL_ID_LIMIT = 1024


def _our_config(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cloudWatchConfig": {
            "logGroupName": properties["LogGroupName"],
            "roleArn": properties["RoleArn"],
        },
        "textDataDeliveryEnabled": True,
        "imageDataDeliveryEnabled": False,
        "embeddingDataDeliveryEnabled": False,
    }


def _normal(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """A config without its unset and false fields, so equal settings compare equal."""
    if not config:
        return {}
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            value = _normal(value)
        if value not in (None, False, {}, ""):
            out[key] = value
    return out


def _current(client: BedrockControl) -> dict[str, Any]:
    return _normal(client.get_model_invocation_logging_configuration().get("loggingConfig"))


def _remember(prior: Mapping[str, Any]) -> str:
    if not prior:
        return _PRIOR_NONE
    packed = base64.urlsafe_b64encode(zlib.compress(json.dumps(prior).encode(), 9)).decode()
    physical_id = _PRIOR_PREFIX + packed
    if len(physical_id) > _PHYSICAL_ID_LIMIT:
        raise ModelAccessError(
            "the region's existing invocation logging configuration is too large to remember "
            "for restoring it on delete; leave relaykit.invocationLogging.enabled=false and "
            "keep the existing configuration"
        )
    return physical_id


def _recall(physical_id: str) -> dict[str, Any] | None:
    """What to restore: {} for nothing, None if this resource never set the configuration."""
    if physical_id == _PRIOR_NONE:
        return {}
    if physical_id.startswith(_PRIOR_PREFIX):
        packed = physical_id[len(_PRIOR_PREFIX) :]
        prior: dict[str, Any] = json.loads(zlib.decompress(base64.urlsafe_b64decode(packed)))
        return prior
    return None


def invocation_logging(
    client: BedrockControl, event: Mapping[str, Any]
) -> tuple[str, dict[str, str]]:
    """Run one event of `Custom::BedrockInvocationLogging`; (physical id, data)."""
    request_type = event["RequestType"]
    properties = event.get("ResourceProperties", {})
    physical_id = str(event.get("PhysicalResourceId") or _REFUSED)
    current = _current(client)
    if request_type == "Delete":
        prior = _recall(physical_id)
        if prior is None or current != _normal(_our_config(properties)):
            return physical_id, {}  # never ours, or changed by someone since: leave it
        if prior:
            client.put_model_invocation_logging_configuration(loggingConfig=prior)
        else:
            client.delete_model_invocation_logging_configuration()
        return physical_id, {}
    ours = _our_config(properties)
    old = event.get("OldResourceProperties")
    ours_before = _normal(_our_config(old)) if request_type == "Update" and old else None
    if request_type == "Create":
        if current and current != _normal(ours) and properties.get("TakeOver") != "true":
            raise ModelAccessError(
                "this region already has a different Bedrock model invocation logging "
                f"configuration ({json.dumps(current)}); deploying would replace it for every "
                "workload in the account. Keep it (relaykit.invocationLogging.enabled=false) or "
                "replace it, restoring it on destroy (relaykit.invocationLogging.takeOver=true)."
            )
        physical_id = _remember(current if current != _normal(ours) else {})
    elif current not in ({}, ours_before, _normal(ours)):
        raise ModelAccessError(
            "the region's Bedrock model invocation logging configuration was changed outside "
            "this stack; it is left as it is. Set relaykit.invocationLogging.enabled=false to "
            "keep it, or restore this stack's configuration and deploy again."
        )
    client.put_model_invocation_logging_configuration(loggingConfig=ours)
    return physical_id, {"LogGroupName": str(properties["LogGroupName"])}


def dispatch(
    event: Mapping[str, Any], client: BedrockControl, remaining_seconds: float
) -> tuple[str, dict[str, str]]:
    """Run one custom-resource event; (physical id, data)."""
    request_type = event["RequestType"]
    properties = event.get("ResourceProperties", {})
    resource_type = event["ResourceType"]
    physical_id = (
        event.get("PhysicalResourceId")
        or f"{event['LogicalResourceId']}-{properties.get('Region', '')}"
    )
    if resource_type == "Custom::BedrockModelAccess":
        if request_type == "Delete":
            return physical_id, {}
        return physical_id, model_access(client, properties, remaining_seconds)
    if resource_type == "Custom::BedrockInvocationLogging":
        return invocation_logging(client, event)
    raise ModelAccessError(f"unknown resource type {resource_type}")


def send_response(
    event: Mapping[str, Any],
    status: str,
    physical_id: str,
    data: Mapping[str, str],
    reason: str = "",
) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:3500] or "see the function's log",
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": dict(data),
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the pre-signed URL CloudFormation gave us
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


def handler(event: dict[str, Any], context: Any) -> None:
    import boto3  # imported here so tests of the logic need no AWS SDK setup

    client = cast(BedrockControl, boto3.client("bedrock"))
    remaining = context.get_remaining_time_in_millis() / 1000 - REPORT_MARGIN_SECONDS
    physical_id = event.get("PhysicalResourceId") or event["LogicalResourceId"]
    try:
        physical_id, data = dispatch(event, client, remaining)
    except Exception as error:
        # The reason carries the fix; it never contains prompts or keys.
        print(
            json.dumps(
                {"level": "ERROR", "resource": event["LogicalResourceId"], "error": str(error)}
            )
        )
        send_response(event, "FAILED", physical_id, {}, str(error))
        return
    send_response(event, "SUCCESS", physical_id, data)
