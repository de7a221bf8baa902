"""The limits each compute puts on a relay request, in one place: the constructs set the relay's
environment from them and docs/aws.md's limits table is generated from them (`limits_table`).

Each number is the service's documented limit, or derived from it as its comment says; nothing
here imports CDK, so the relay's tests can read the limits without starting jsii.
"""

from __future__ import annotations

from dataclasses import dataclass

from relaykit.server_options import ServerOptions

# --- Lambda behind API Gateway (REST, streaming) ---------------------------------------------
# Lambda takes at most 6 MB (6,291,456 bytes) per synchronous invocation, and the proxy event
# carries the body inside JSON next to the headers and context, base64-encoded (4/3 larger) when
# API Gateway treats it as binary. So the relay admits bodies up to 3/4 of the limit less 64 KiB
# for the event around it, about 4.45 MiB; larger ones it refuses as request_too_large.
LAMBDA_PAYLOAD_LIMIT_BYTES = 6_291_456
LAMBDA_MAX_BODY_BYTES = (LAMBDA_PAYLOAD_LIMIT_BYTES - 64 * 1024) * 3 // 4
# A streamed response may last as long as the function: Lambda's 15-minute maximum.
LAMBDA_STREAM_SECONDS = 15 * 60

# --- Fargate behind an Application Load Balancer ----------------------------------------------
# Bedrock's InvokeModel takes a Claude request of at most 20 MB
# (docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-
# request-response.html); an ALB forwards request bodies of any size to IP targets (its quotas
# bound the request line to 16 KB and the headers to 64 KB), so Bedrock's limit is the relay's.
FARGATE_MAX_BODY_BYTES = 20 * 1024 * 1024
# Seconds without a byte either way before the load balancer closes a connection (1 to 4,000):
# long enough for the first token of a very long prompt; streams send events meanwhile.
ALB_IDLE_TIMEOUT_SECONDS = 600
# uvicorn keeps idle connections open longer than the balancer, so the balancer always closes
# first and never sends a request on a connection uvicorn is closing (a 502).
FARGATE_KEEP_ALIVE_SECONDS = ALB_IDLE_TIMEOUT_SECONDS + 5
# Fargate's stop timeout is at most 120 s (ECS ContainerDefinition.stopTimeout); uvicorn
# finishes its graceful shutdown before the SIGKILL.
FARGATE_STOP_TIMEOUT_SECONDS = 120
FARGATE_GRACEFUL_SHUTDOWN_SECONDS = FARGATE_STOP_TIMEOUT_SECONDS - 10
# Open streams keep running this long once a task leaves the target group on deploy or scale-in
# (Lambda's 15-minute ceiling, so no stream that Lambda would finish is cut); deregistration
# ends sooner once the task has no request in flight. The ALB allows up to 3,600 s.
FARGATE_DRAIN_SECONDS = LAMBDA_STREAM_SECONDS


@dataclass(frozen=True)
class Limit:
    what: str
    lambda_: str
    fargate: str


def limits() -> tuple[Limit, ...]:
    mib = 1024 * 1024
    return (
        Limit(
            "Request body (RELAY_MAX_BODY_BYTES)",
            f"{LAMBDA_MAX_BODY_BYTES:,} bytes ({LAMBDA_MAX_BODY_BYTES / mib:.2f} MiB): Lambda's "
            "6 MB invocation payload, base64 and event overhead",
            f"{FARGATE_MAX_BODY_BYTES:,} bytes (20 MiB): Bedrock's InvokeModel payload; the "
            "ALB sets none",
        ),
        Limit(
            "Stream duration",
            f"{LAMBDA_STREAM_SECONDS // 60} minutes (function timeout)",
            "none; a connection idle (no byte either way) for "
            f"{ALB_IDLE_TIMEOUT_SECONDS} s is closed (ALB idle timeout)",
        ),
        Limit(
            "Streams in flight",
            "reserved concurrency (one per instance, relaykit.lambda.reservedConcurrency)",
            f"{ServerOptions().limit_concurrency} connections per task (RELAY_LIMIT_CONCURRENCY) "
            "x tasks (relaykit.fargate.maxTasks)",
        ),
        Limit(
            "Open streams on deploy",
            "finish on the old version (Lambda keeps it until they end)",
            f"keep {FARGATE_DRAIN_SECONDS} s (deregistration delay), then "
            f"{FARGATE_GRACEFUL_SHUTDOWN_SECONDS} s after SIGTERM (stop timeout "
            f"{FARGATE_STOP_TIMEOUT_SECONDS} s)",
        ),
        Limit(
            "Request headers",
            "10 KB (API Gateway REST)",
            "64 KB in all, 16 KB each (ALB); the relay's RELAY_MAX_HEADER_BYTES applies to both",
        ),
    )


def limits_table() -> str:
    """The Markdown limits table of docs/aws.md."""
    lines = ["| Limit | Lambda (default) | Fargate |", "| --- | --- | --- |"]
    lines += [f"| {item.what} | {item.lambda_} | {item.fargate} |" for item in limits()]
    return "\n".join(lines) + "\n"
