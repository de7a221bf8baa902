"""Whether an account can call a model in a Bedrock region: model access and inference profiles.

Shared by `status` (shows it) and `doctor` (counts what fails, with the fix).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from relay.targets import BedrockTarget
from relaykit.failures import describe


@dataclass(frozen=True)
class Access:
    model_id: str
    region: str
    ok: bool
    detail: str
    fix: str = ""


def model_access(bedrock: Any, target: BedrockTarget) -> Access:
    """GetFoundationModelAvailability for the model, then the profile the relay invokes."""
    model, region = target.model, target.region
    try:
        found = bedrock.get_foundation_model_availability(modelId=model.bedrock_id)
    except Exception as error:
        return Access(
            model.bedrock_id,
            region,
            False,
            f"cannot read model access: {describe(error)}",
            "grant bedrock:GetFoundationModelAvailability, or check in the Bedrock console",
        )
    agreement = found.get("agreementAvailability", {}).get("status", "NOT_AVAILABLE")
    if found.get("authorizationStatus") != "AUTHORIZED" or agreement != "AVAILABLE":
        return Access(
            model.bedrock_id,
            region,
            False,
            f"model access not granted (authorization {found.get('authorizationStatus')}, "
            f"agreement {agreement})",
            "deploy with relaykit.modelAccess.enabled (fills the use-case form) or request "
            f"access in the Bedrock console of {region}",
        )
    if target.profile is not None:
        try:
            profile = bedrock.get_inference_profile(inferenceProfileIdentifier=target.model_id)
        except ClientError as error:
            return Access(
                target.model_id,
                region,
                False,
                f"inference profile missing: {describe(error)}",
                "this region cannot call it: pick another --routing or Bedrock region",
            )
        except Exception as error:
            return Access(
                target.model_id,
                region,
                False,
                f"cannot read the profile: {describe(error)}",
                "grant bedrock:GetInferenceProfile",
            )
        if profile.get("status") != "ACTIVE":
            return Access(
                target.model_id,
                region,
                False,
                f"profile status {profile.get('status')}",
                "wait for AWS or pick another --routing",
            )
    return Access(
        target.model_id,
        region,
        True,
        "access granted" + (", profile active" if target.profile else ""),
    )
