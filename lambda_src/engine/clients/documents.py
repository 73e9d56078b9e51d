"""Documents (receipt PDFs) in the documents bucket: read, or written once and never replaced.

`put_once` is a conditional PUT (If-None-Match: *): the first copy stored stays, so a
document a customer downloaded is the document every later download gets.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

PDF = "application/pdf"
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_ALREADY_THERE = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


class DocumentStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self.calls = 0  # S3 requests made, for the per-operation counts

    def get(self, key: str) -> bytes | None:
        self.calls += 1
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _MISSING:
                return None
            raise
        return bytes(response["Body"].read())

    def put_once(self, key: str, body: bytes, content_type: str = PDF) -> bytes:
        """Store `body` unless `key` exists; the stored bytes either way."""
        self.calls += 1
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _ALREADY_THERE:
                raise
            stored = self.get(key)
            if stored is None:  # a conflicting write still in flight: ours is the same bytes
                return body
            return stored
        return body
