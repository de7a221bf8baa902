"""Small builders of request pieces shared by the relay tests."""

from __future__ import annotations

from anthropic.types import MessageParam

KEY = "sk-relay-test-key"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}


def user(text: str) -> list[MessageParam]:
    return [{"role": "user", "content": text}]
