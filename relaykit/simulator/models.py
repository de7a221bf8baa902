"""Which model a Bedrock or Vertex AI model id names, read from the catalog (the simulator
spells no id)."""

from __future__ import annotations

from collections.abc import Iterable

from relay.catalog import MODELS, Model
from relaykit.simulator.errors import BedrockError

# Bedrock also accepts ARNs in the modelId path parameter; these are the resource kinds that
# name a catalog model directly (provisioned throughput and custom models are not simulated).
_ARN_RESOURCES = ("foundation-model/", "inference-profile/")


def model_index(models: Iterable[Model] = MODELS) -> dict[str, Model]:
    """Every id Bedrock accepts for a catalog model: the foundation-model id and its profiles."""
    index: dict[str, Model] = {}
    for model in models:
        index[model.bedrock_id] = model
        for profile in model.inference_profiles:
            index[profile.profile_id(model.bedrock_id)] = model
    return index


class ModelResolver:
    """Looks up the model named by a modelId path parameter, or raises Bedrock's error."""

    def __init__(self, models: Iterable[Model] = MODELS) -> None:
        models = tuple(models)
        self._index = model_index(models)
        self._vertex = {model.vertex_id: model for model in models if model.vertex_id}

    def vertex(self, model_id: str) -> Model | None:
        """The model a Vertex AI publisher model id (`claude-haiku-4-5@20251001`) names."""
        return self._vertex.get(model_id)

    def resolve(self, model_id: str) -> Model:
        key = model_id
        if key.startswith("arn:"):
            # arn:aws:bedrock:<region>:<account>:<resource>/<id>
            resource = key.split(":", 5)[-1]
            kinds = [kind for kind in _ARN_RESOURCES if resource.startswith(kind)]
            key = resource.removeprefix(kinds[0]) if kinds else ""
        model = self._index.get(key)
        if model is None:
            raise BedrockError.validation("The provided model identifier is invalid.")
        return model
