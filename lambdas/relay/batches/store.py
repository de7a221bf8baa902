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

from relay.batches.state import Batch

# boto3-stubs' s3 extra is not a dependency; the client is used through these few calls.
S3Client = Any

ROOT = "batches"


class BatchStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
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
        found: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        root = f"{ROOT}/{key_id}/"
        for page in paginator.paginate(Bucket=self.bucket, Prefix=root, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                found.append(common["Prefix"][len(root) :].rstrip("/"))
        return sorted(found)

    def put_lines(self, key: str, lines: Iterator[bytes] | list[bytes]) -> None:
        self._put(key, b"".join(lines), "application/x-ndjson")

    def read_lines(self, key: str) -> Iterator[dict[str, Any]]:
        body = self._get(key)
        for line in (body or b"").splitlines():
            if line.strip():
                yield json.loads(line)

    def find(self, prefix: str, suffix: str) -> str | None:
        """The first key under `prefix` ending in `suffix` (Bedrock names its output folder
        after the job)."""
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith(suffix):
                    found: str = item["Key"]
                    return found
        return None

    def chunks(self, key: str) -> Iterator[bytes]:
        body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
        yield from body.iter_chunks(64 * 1024)

    def exists(self, key: str) -> bool:
        listed = self._client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return bool(listed.get("KeyCount"))

    def delete_prefix(self, prefix: str) -> None:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def _get(self, key: str) -> bytes | None:
        try:
            body: bytes = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self._client.exceptions.NoSuchKey:
            return None
        return body
