"""Required APIs: enabled, and never disabled by `pulumi destroy`."""

from __future__ import annotations

import pytest
from gcp_program import PROJECT_ID, Deployment

SERVICE = "gcp:projects/service:Service"


def _enabled(deployment: Deployment) -> set[str]:
    return {s.inputs["service"] for s in deployment.of_type(SERVICE)}


@pytest.mark.parametrize(
    "api",
    [
        "aiplatform.googleapis.com",
        "iam.googleapis.com",
        "iamcredentials.googleapis.com",
        "sts.googleapis.com",
        "cloudquotas.googleapis.com",
        "billingbudgets.googleapis.com",
        "monitoring.googleapis.com",
        "cloudcommerceconsumerprocurement.googleapis.com",
    ],
)
def test_api_is_enabled(default_deployment: Deployment, api: str) -> None:
    assert api in _enabled(default_deployment)


def test_no_api_is_disabled_on_destroy(default_deployment: Deployment) -> None:
    services = default_deployment.of_type(SERVICE)
    assert services
    assert {s.inputs["disableOnDestroy"] for s in services} == {False}


def test_apis_are_enabled_in_the_stack_project(default_deployment: Deployment) -> None:
    assert {s.inputs["project"] for s in default_deployment.of_type(SERVICE)} == {PROJECT_ID}
