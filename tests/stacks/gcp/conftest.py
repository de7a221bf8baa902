"""Fixtures for the GCP program's tests (helpers live in gcp_program.py)."""

from __future__ import annotations

from typing import Any

import pytest
from gcp_program import Deployment, base_config, run_program


@pytest.fixture
def config_data() -> dict[str, Any]:
    """A fresh valid config per test, to break one key at a time."""
    return base_config()


@pytest.fixture(scope="module")
def default_deployment() -> Deployment:
    """The program built once per test module from `base_config()`."""
    return run_program(base_config())


def pytest_configure(config: pytest.Config) -> None:
    # Importing pulumi_gcp warns about a deprecated function this program never calls.
    config.addinivalue_line(
        "filterwarnings", "ignore:gcp.monitoring.getSecretVersion:DeprecationWarning"
    )
