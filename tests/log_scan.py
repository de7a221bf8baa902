"""A pytest plugin: every log record of the run is kept, and the run fails if any line carries a
string a test declared secret (prompt text, completion text, key material).

Records are taken at `logging.Logger.handle`, so no logger escapes (propagating or not, whatever
handlers uvicorn's log config installs). Tests declare what must never be logged through the
`log_scan` fixture: `log_scan.forbid(text)`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

# Every test that goes through relay_wire uses this key.
_KNOWN_SECRETS = ("sk-relay-test-key",)
_MIN_LENGTH = 8


class LogScan:
    def __init__(self) -> None:
        self.forbidden: set[str] = set(_KNOWN_SECRETS)
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def forbid(self, text: str) -> None:
        """Declare `text` secret; short strings are refused (they would match by chance)."""
        if len(text) < _MIN_LENGTH:
            raise ValueError(f"a forbidden string needs {_MIN_LENGTH}+ characters: {text!r}")
        with self._lock:
            self.forbidden.add(text)

    def keep(self, record: logging.LogRecord) -> None:
        parts = [record.name, record.getMessage()]
        parts += [str(value) for value in record.__dict__.values()]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(logging.Formatter().formatException(record.exc_info))
        with self._lock:
            self.lines.append(" ".join(parts))

    def leaks(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(text, line) for line in self.lines for text in self.forbidden if text in line]


_SCAN = LogScan()


def _handle(original: Any) -> Any:
    def handle(self: logging.Logger, record: logging.LogRecord) -> None:
        _SCAN.keep(record)
        original(self, record)

    return handle


def pytest_sessionstart(session: pytest.Session) -> None:
    logging.Logger.handle = _handle(logging.Logger.handle)  # type: ignore[method-assign]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = _SCAN.leaks()
    if not leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for text, line in leaks[:20]:
        message = f"log scan: a secret ({text[:4]}...) was logged: {line[:300]}"
        if reporter is not None:
            reporter.write_line(message, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def log_scan() -> LogScan:
    return _SCAN
