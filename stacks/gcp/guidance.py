"""What the stack tells its user: client settings, and the Model Garden step it cannot automate.

Enabling a partner model in Model Garden (accepting Anthropic's terms through Cloud Commerce
Consumer Procurement) has no public API we know of, so the stack outputs the console page to
visit and a request that shows whether it worked. Pure functions, tested directly.
"""

from __future__ import annotations

from relay.catalog import Model


def vertex_host(location: str) -> str:
    """The Vertex AI API host serving `location` (global, us/eu multi-region, or a region)."""
    if location == "global":
        return "aiplatform.googleapis.com"
    if location in ("us", "eu"):
        return f"aiplatform.{location}.rep.googleapis.com"
    return f"{location}-aiplatform.googleapis.com"


def raw_predict_url(project: str, location: str, model: Model) -> str:
    if model.vertex_id is None:
        raise ValueError(f"{model.name} is not offered on Vertex AI")
    return (
        f"https://{vertex_host(location)}/v1/projects/{project}/locations/{location}"
        f"/publishers/anthropic/models/{model.vertex_id}:rawPredict"
    )


def model_garden_url(project: str, model: Model) -> str:
    """The model card where the Enable button is."""
    if model.vertex_id is None:
        raise ValueError(f"{model.name} is not offered on Vertex AI")
    card = model.vertex_id.split("@", 1)[0]
    return (
        "https://console.cloud.google.com/vertex-ai/publishers/anthropic/model-garden/"
        f"{card}?project={project}"
    )


def model_garden_steps(project: str, location: str, model: Model) -> dict[str, str]:
    """Exactly what to click for one model and how to check it worked."""
    return {
        "enable": (
            f"Open {model_garden_url(project, model)} as a user holding "
            "roles/consumerprocurement.entitlementManager, click Enable, and accept the terms."
        ),
        "check": (
            'curl -s -o /dev/null -w "%{http_code}\\n" -X POST '
            '-H "Authorization: Bearer $(gcloud auth print-access-token)" '
            '-H "Content-Type: application/json" '
            f"{raw_predict_url(project, location, model)} "
            '-d \'{"anthropic_version":"vertex-2023-10-16","max_tokens":1,'
            '"messages":[{"role":"user","content":"ping"}]}\''
        ),
        "expect": (
            "200: enabled and within quota. 403 or 404: not enabled in this project (or your "
            "account lacks aiplatform.endpoints.predict). 429: enabled, but the quota for this "
            "location is 0 or used up: see the quota preferences."
        ),
    }


def anthropic_vertex_env(project: str, region: str) -> dict[str, str]:
    """The environment `anthropic[vertex]` (AnthropicVertex) reads for project and region."""
    return {"ANTHROPIC_VERTEX_PROJECT_ID": project, "CLOUD_ML_REGION": region}
