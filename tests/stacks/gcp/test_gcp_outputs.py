"""Stack outputs: what a user needs to call Claude, and the Model Garden step."""

from __future__ import annotations

from gcp_program import PROJECT_ID, Deployment, base_config

from relay.catalog import DEFAULT_MODEL
from stacks.gcp.guidance import model_garden_url, raw_predict_url, vertex_host


def test_models_output_maps_aliases_to_vertex_ids(default_deployment: Deployment) -> None:
    assert default_deployment.outputs["models"] == {DEFAULT_MODEL.alias: DEFAULT_MODEL.vertex_id}


def test_anthropic_vertex_env_names_project_and_region(default_deployment: Deployment) -> None:
    assert default_deployment.outputs["anthropicVertexEnv"] == {
        "ANTHROPIC_VERTEX_PROJECT_ID": PROJECT_ID,
        "CLOUD_ML_REGION": base_config()["regions"][0],
    }


def test_region_output_is_the_primary_region(default_deployment: Deployment) -> None:
    assert default_deployment.outputs["region"] == base_config()["regions"][0]


def test_service_account_email_is_exported(default_deployment: Deployment) -> None:
    assert default_deployment.outputs["serviceAccountEmail"] == (
        f"claude-vertex-invoker@{PROJECT_ID}.iam.gserviceaccount.com"
    )


def test_model_garden_steps_link_the_model_card(default_deployment: Deployment) -> None:
    steps = default_deployment.outputs["modelGarden"][DEFAULT_MODEL.alias]
    assert model_garden_url(PROJECT_ID, DEFAULT_MODEL) in steps["enable"]


def test_model_garden_check_calls_raw_predict(default_deployment: Deployment) -> None:
    steps = default_deployment.outputs["modelGarden"][DEFAULT_MODEL.alias]
    region = base_config()["regions"][0]
    assert raw_predict_url(PROJECT_ID, region, DEFAULT_MODEL) in steps["check"]
    assert "429" in steps["expect"]


def test_vertex_hosts_follow_the_location() -> None:
    assert vertex_host("global") == "aiplatform.googleapis.com"
    assert vertex_host("eu") == "aiplatform.eu.rep.googleapis.com"
    assert vertex_host("us-east5") == "us-east5-aiplatform.googleapis.com"
