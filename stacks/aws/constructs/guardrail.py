"""A Bedrock guardrail that anonymises personal data, with a pinned version for the relay.

The relay applies it to every call (RELAY_GUARDRAIL_ID / RELAY_GUARDRAIL_VERSION become the
X-Amzn-Bedrock-GuardrailIdentifier / -GuardrailVersion of InvokeModel) in synchronous stream
processing, because asynchronous mode cannot mask what it has already streamed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from aws_cdk import aws_bedrock as bedrock
from constructs import Construct

# Bedrock's managed PII entities for phone numbers, identity numbers, e-mails and card numbers.
ANONYMISED_ENTITIES = (
    "PHONE",
    "EMAIL",
    "CREDIT_DEBIT_CARD_NUMBER",
    "CREDIT_DEBIT_CARD_CVV",
    "CREDIT_DEBIT_CARD_EXPIRY",
    "US_SOCIAL_SECURITY_NUMBER",
    "US_PASSPORT_NUMBER",
    "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
    "DRIVER_ID",
    "UK_NATIONAL_INSURANCE_NUMBER",
    "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
    "CA_SOCIAL_INSURANCE_NUMBER",
    "CA_HEALTH_NUMBER",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
)
# Identity numbers Bedrock has no managed entity for, matched by pattern.
ANONYMISED_PATTERNS = (("HONG_KONG_IDENTITY_CARD", r"\b[A-Z]{1,2}[0-9]{6}\([0-9A]\)"),)


@dataclass(frozen=True)
class PiiGuardrailProps:
    name: str
    blocked_message: str = "This request was blocked by the organisation's guardrail."


class PiiGuardrail(Construct):
    """Provisions a `CfnGuardrail` with PII anonymisation and a `CfnGuardrailVersion`.

    The version's description carries a digest of the policy, so changing the policy publishes
    a new version and the relay moves to it on the same deploy.
    """

    def __init__(self, scope: Construct, construct_id: str, props: PiiGuardrailProps) -> None:
        super().__init__(scope, construct_id)
        pii = bedrock.CfnGuardrail.SensitiveInformationPolicyConfigProperty(
            pii_entities_config=[
                bedrock.CfnGuardrail.PiiEntityConfigProperty(
                    type=entity,
                    action="ANONYMIZE",
                    input_action="ANONYMIZE",
                    output_action="ANONYMIZE",
                    input_enabled=True,
                    output_enabled=True,
                )
                for entity in ANONYMISED_ENTITIES
            ],
            regexes_config=[
                bedrock.CfnGuardrail.RegexConfigProperty(
                    name=name,
                    pattern=pattern,
                    action="ANONYMIZE",
                    input_action="ANONYMIZE",
                    output_action="ANONYMIZE",
                    input_enabled=True,
                    output_enabled=True,
                )
                for name, pattern in ANONYMISED_PATTERNS
            ],
        )
        self.guardrail = bedrock.CfnGuardrail(
            self,
            "Guardrail",
            name=props.name,
            description="Anonymises phone numbers, identity numbers, e-mails and card numbers",
            blocked_input_messaging=props.blocked_message,
            blocked_outputs_messaging=props.blocked_message,
            sensitive_information_policy_config=pii,
        )
        digest = hashlib.sha256(
            json.dumps([ANONYMISED_ENTITIES, ANONYMISED_PATTERNS, props.blocked_message]).encode()
        ).hexdigest()[:12]
        self.version = bedrock.CfnGuardrailVersion(
            self,
            "Version",
            guardrail_identifier=self.guardrail.attr_guardrail_id,
            description=f"PII anonymisation, policy {digest}",
        )

    @property
    def guardrail_id(self) -> str:
        return self.guardrail.attr_guardrail_id

    @property
    def guardrail_arn(self) -> str:
        return self.guardrail.attr_guardrail_arn

    @property
    def version_number(self) -> str:
        return self.version.attr_version
