"""Cross-cloud failover from the CDK config: `relaykit.vertex` and `relaykit.fallbacks` become
the relay's environment (RELAY_VERTEX_*, RELAY_FALLBACKS), validated as the relay reads them.

The Vertex credentials are the keyless Workload Identity Federation configuration (an
`external_account` JSON, no secret): a service-account key would sit readable in the function's
configuration, so it is refused here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.backends.vertex_access import VertexSettings
from relay.catalog import Catalog, Model, Routing
from relay.settings import ConfigError as RelayConfigError
from relay.settings import FallbackStep, parse_fallbacks
from relay.targets import BedrockTarget, NoRouteError, bedrock_target

# Lambda's limit on a function's environment: every key and value together.
LAMBDA_ENVIRONMENT_LIMIT = 4096
# What a CloudFormation token (a generated table name, a queue URL) may take once resolved.
TOKEN_ALLOWANCE = 128
# The GCP program's stack output holding the credential configuration.
CREDENTIAL_OUTPUT = "federationCredentialConfig"


class FailoverError(ValueError):
    """`relaykit.vertex` or `relaykit.fallbacks` is invalid; the message names the key."""


@dataclass(frozen=True)
class VertexAccess:
    """Where the relays call Claude on Vertex AI, and the federation config they do it with."""

    project: str
    region: str
    credentials: dict[str, Any] = field(repr=False)

    def environment(self) -> dict[str, str]:
        return {
            "RELAY_VERTEX_PROJECT": self.project,
            "RELAY_VERTEX_REGION": self.region,
            "RELAY_VERTEX_CREDENTIALS": json.dumps(self.credentials, separators=(",", ":")),
        }


def vertex_access(
    project: str, region: str, credentials: Mapping[str, Any] | str, key: str
) -> VertexAccess:
    """Validate `relaykit.vertex` (`key`); `credentials` is the config or a file's path."""
    try:
        VertexSettings(project, region)
    except RelayConfigError as error:
        raise FailoverError(f"{key}: {error}") from None
    info = (
        dict(credentials)
        if isinstance(credentials, Mapping)
        else _read(Path(credentials), f"{key}.credentials")
    )
    kind = info.get("type")
    if kind != "external_account":
        raise FailoverError(
            f"{key}.credentials: credential type {kind!r}; give the keyless external_account "
            f"configuration the GCP program outputs ({CREDENTIAL_OUTPUT}): a key in the Lambda "
            "environment would be readable by anyone who can read the function's configuration"
        )
    return VertexAccess(project, region, info)


def _read(path: Path, key: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise FailoverError(
            f"{key}: cannot read {path} ({error.strerror}); write it with "
            "`pulumi stack output --json > gcp-outputs.json` or give the JSON object itself"
        ) from None
    except ValueError:
        raise FailoverError(f"{key}: {path} is not valid JSON") from None
    if isinstance(data, dict) and CREDENTIAL_OUTPUT in data:
        # The whole `pulumi stack output --json`: the config is a JSON string inside it.
        inner = data[CREDENTIAL_OUTPUT]
        try:
            data = json.loads(inner) if isinstance(inner, str) else inner
        except ValueError:
            raise FailoverError(f"{key}: {path}'s {CREDENTIAL_OUTPUT} is not JSON") from None
    if not isinstance(data, dict):
        raise FailoverError(f"{key}: {path} does not hold a credential configuration object")
    return data


def fallback_chains(
    fallbacks: Mapping[str, tuple[str, ...]],
    catalog: Catalog,
    models: tuple[Model, ...],
    vertex: VertexAccess | None,
    key: str,
) -> dict[str, tuple[FallbackStep, ...]]:
    """`relaykit.fallbacks` parsed as the relay parses RELAY_FALLBACKS, and checked against
    what is deployed: chains of deployed models, "model:" steps to deployed models, "vertex"
    steps only with `relaykit.vertex`."""
    try:
        chains = parse_fallbacks(json.dumps({k: list(v) for k, v in fallbacks.items()}), catalog)
    except RelayConfigError as error:
        raise FailoverError(f"{key}: {error}") from None
    deployed = {m.alias for m in models}
    for alias, steps in chains.items():
        if alias not in deployed:
            raise FailoverError(f"{key}[{alias!r}]: {alias} is not deployed; add it to models")
        for step in steps:
            if step.kind == "model" and step.model is not None and step.model.alias not in deployed:
                raise FailoverError(
                    f"{key}[{alias!r}]: model:{step.model.alias} is not deployed; add it to models"
                )
            if step.kind == "vertex" and vertex is None:
                raise FailoverError(
                    f"{key}[{alias!r}]: a vertex step needs the vertex block (project, region, "
                    "credentials): docs/gcp.md, 'Vertex AI as the last fallback'"
                )
    return chains


def fallback_targets(
    chains: Mapping[str, tuple[FallbackStep, ...]],
    catalog: Catalog,
    routing: Routing,
    key: str,
) -> tuple[BedrockTarget, ...]:
    """The Bedrock routes the chains' "bedrock:" steps call (the relay's role may invoke them)."""
    targets = []
    for alias, steps in chains.items():
        model = catalog.by_alias(alias)
        for step in steps:
            if step.kind != "bedrock" or step.region is None:
                continue
            try:
                targets.append(bedrock_target(model, step.region, step.routing or routing))
            except NoRouteError as error:
                raise FailoverError(f"{key}[{alias!r}]: bedrock:{step.region}: {error}") from None
    return tuple(dict.fromkeys(targets))


def failover_environment(
    fallbacks: Mapping[str, tuple[str, ...]], vertex: VertexAccess | None
) -> dict[str, str]:
    environment = vertex.environment() if vertex is not None else {}
    if fallbacks:
        environment["RELAY_FALLBACKS"] = json.dumps(
            {k: list(v) for k, v in fallbacks.items()}, separators=(",", ":")
        )
    return environment


def environment_overflow(
    environment: Mapping[str, str], is_token: Callable[[str], bool]
) -> str | None:
    """Why the environment passes Lambda's 4 KB (CloudFormation says so only at deploy time),
    or None; `is_token` tells unresolved values, counted at TOKEN_ALLOWANCE each."""
    sizes = {k: TOKEN_ALLOWANCE if is_token(v) else len(v.encode()) for k, v in environment.items()}
    size = sum(len(k) + n for k, n in sizes.items())
    if size <= LAMBDA_ENVIRONMENT_LIMIT:
        return None
    largest = sorted(sizes, key=lambda k: -sizes[k])[:3]
    return (
        f"the relay's Lambda environment would take about {size} bytes, over Lambda's "
        f"{LAMBDA_ENVIRONMENT_LIMIT}; its largest values are {', '.join(largest)}: shorten "
        "relaykit.fallbacks, relaykit.catalogExtra or relaykit.modelAliases"
    )
