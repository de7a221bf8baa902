"""How the simulator behaves: pacing, fault rates and the seed that makes faults repeatable."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimulatorConfig:
    """Settings of one simulator instance; the defaults answer at once and never fail.

    latency: seconds waited before any model operation answers (all three operations).
    time_to_first_token: seconds a stream waits before its first event.
    tokens_per_second: stream pacing of output tokens; 0 sends every event at once.
    throttle_rate, server_error_rate, timeout_rate: chance that a model request fails up front
        with ThrottlingException, InternalServerException or ModelTimeoutException.
    mid_stream_error_rate: chance that a stream breaks after its first delta with a
        modelStreamErrorException.
    seed: seeds the random draws for the rates above, so a run with rates is repeatable.
    min_cacheable_tokens: a cache_control prefix shorter than this is not cached (the real
        minimum is 1,024 to 4,096 tokens depending on the model); 0 caches any prefix.
    batch_seconds: how long a batch inference job takes, from submission to its output.
    batch_min_records: Bedrock's minimum records per batch inference job (a fewer fail).
    s3_endpoint_url: where batch jobs read and write S3 (moto's server); None: boto3's default
        (moto's in-process mock in tests).
    """

    latency: float = 0.0
    time_to_first_token: float = 0.0
    tokens_per_second: float = 0.0
    throttle_rate: float = 0.0
    server_error_rate: float = 0.0
    timeout_rate: float = 0.0
    mid_stream_error_rate: float = 0.0
    seed: int = 0
    min_cacheable_tokens: int = 0
    batch_seconds: float = 0.0
    batch_min_records: int = 100
    s3_endpoint_url: str | None = None

    def __post_init__(self) -> None:
        for name in ("latency", "time_to_first_token", "tokens_per_second", "batch_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"SimulatorConfig.{name} must be >= 0, got {getattr(self, name)}")
        rates = ("throttle_rate", "server_error_rate", "timeout_rate", "mid_stream_error_rate")
        for name in rates:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"SimulatorConfig.{name} must be between 0 and 1, got {getattr(self, name)}"
                )
        upfront = self.throttle_rate + self.server_error_rate + self.timeout_rate
        if upfront > 1.0:
            raise ValueError(
                "SimulatorConfig: throttle_rate + server_error_rate + timeout_rate must not "
                f"exceed 1, got {upfront}"
            )
        if self.min_cacheable_tokens < 0:
            raise ValueError("SimulatorConfig.min_cacheable_tokens must be >= 0")
