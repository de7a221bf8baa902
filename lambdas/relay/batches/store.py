"""Where batches live: one S3 prefix per key and batch, holding the batch's state, Bedrock's
input and output, and the results in Anthropic's shape. A key reads only its own prefix, so it
cannot learn that another key's batch exists.

    batches/<key id>/<batch id>/batch.json           the relay's state of the batch
    batches/<key id>/<batch id>/input/<part>.jsonl   Bedrock's input, one record per request
    batches/<key id>/<batch id>/output/<part>/...    Bedrock's output (<job id>/<part>.jsonl.out)
    batches/<key id>/<batch id>/results/<part>.jsonl the results of the part, Anthropic's shape

The bucket's lifecycle rule deletes everything after Anthropic's retention of results.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

from relay.batches.aws_http import AwsFailure, SignedClient
from relay.batches.state import Batch

ROOT = "batches"


class BatchStore:
    """`client` is signed for S3 and points at the bucket (virtual-hosted, or path-style)."""

    def __init__(self, client: SignedClient, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    @staticmethod
    def prefix(key_id: str, batch_id: str) -> str:
        return f"{ROOT}/{key_id}/{batch_id}/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def save(self, batch: Batch) -> None:
        key = self.prefix(batch.key_id, batch.id) + "batch.json"
        self._put(key, batch.model_dump_json().encode(), "application/json")

    def load(self, key_id: str, batch_id: str) -> Batch | None:
        body = self._get(self.prefix(key_id, batch_id) + "batch.json")
        return None if body is None else Batch.model_validate_json(body)

    def batch_ids(self, key_id: str) -> list[str]:
        """The key's batch ids, newest first (their ids sort that way)."""
        root = f"{ROOT}/{key_id}/"
        _, folders = self._list(root, delimiter="/")
        return sorted(folder[len(root) :].rstrip("/") for folder in folders)

    def put_lines(self, key: str, lines: list[bytes]) -> None:
        self._put(key, b"".join(lines), "application/x-ndjson")

    def read_lines(self, key: str) -> Iterator[dict[str, Any]]:
        body = self._get(key)
        for line in (body or b"").splitlines():
            if line.strip():
                yield json.loads(line)

    def find(self, prefix: str, suffix: str) -> str | None:
        """The first key under `prefix` ending in `suffix` (Bedrock names its output folder
        after the job)."""
        keys, _ = self._list(prefix)
        return next((key for key in keys if key.endswith(suffix)), None)

    def read(self, key: str) -> bytes:
        return self._get(key) or b""

    def delete_prefix(self, prefix: str) -> None:
        keys, _ = self._list(prefix)
        for key in keys:
            self._client.send("DELETE", _path(key))

    def _list(self, prefix: str, delimiter: str = "") -> tuple[list[str], list[str]]:
        """ListObjectsV2, every page: the keys and the common prefixes."""
        keys: list[str] = []
        folders: list[str] = []
        query = {"list-type": "2", "prefix": prefix}
        if delimiter:
            query["delimiter"] = delimiter
        while True:
            response = self._client.send("GET", "/", query=query)
            root = ElementTree.fromstring(response.content)  # noqa: S314 - S3's own listing
            keys += [item.findtext("{*}Key") or "" for item in root.findall("{*}Contents")]
            folders += [p.findtext("{*}Prefix") or "" for p in root.findall("{*}CommonPrefixes")]
            token = root.findtext("{*}NextContinuationToken")
            if root.findtext("{*}IsTruncated") != "true" or not token:
                return keys, folders
            query["continuation-token"] = token

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        self._client.send("PUT", _path(key), body=body, headers={"Content-Type": content_type})

    def _get(self, key: str) -> bytes | None:
        try:
            return self._client.send("GET", _path(key)).content
        except AwsFailure as failure:
            if failure.status == 404:
                return None
            raise


def _path(key: str) -> str:
    return "/" + quote(key, safe="/")
