"""The load bench at CI scale: `relaykit local`'s table-backed relay under concurrent plain and
streamed requests loses no request and no usage record (the full run: bench/RESULTS.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).parents[2] / "bench" / "local_load.py"


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("local_load", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve a class's module through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_two_hundred_requests_at_twenty_clients_fail_none_and_lose_no_record() -> None:
    result = bench().run_load(requests=200, clients=20)
    assert result.failures == 0
    assert result.records == 200
    assert result.duplicate_records == 0
    assert result.rss_end_mb > 0
