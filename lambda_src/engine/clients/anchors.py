"""Audit chain heads written outside the Audit table: one S3 object per chain
(`audit-anchors/{date}/{branch or HO}.json`, `{chain_id, seq, hash, at}`).

The bucket is versioned with Object Lock in compliance mode (the storage stack's), so every
overwrite is a new version nobody can delete or change before its retention ends, and a
delete without a version id only adds a delete marker. `for_date` therefore reads every
version of each key and keeps the one with the highest seq: an anchor written later but for
an older head (two appends finishing out of order, or someone hiding a deletion) cannot
pull the anchored seq back.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.models.audit import Anchor

PREFIX = "audit-anchors"
JSON = "application/json"
# Version reads at once when a day is verified (one GET per anchored append).
READERS = 16

logger = logging.getLogger(__name__)


def anchor_key(chain_id: str) -> str:
    date, branch = chain_id.split("#", 1)
    return f"{PREFIX}/{date}/{branch}.json"


def chain_of_key(key: str) -> str | None:
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[2].endswith(".json"):
        return None
    return f"{parts[1]}#{parts[2].removesuffix('.json')}"


class AnchorStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put(self, anchor: Anchor) -> None:
        body = {
            "chain_id": anchor.chain_id,
            "seq": anchor.seq,
            "hash": anchor.hash,
            "at": anchor.at,
        }
        self._s3.put_object(
            Bucket=self._bucket,
            Key=anchor_key(anchor.chain_id),
            Body=json.dumps(body, sort_keys=True).encode(),
            ContentType=JSON,
            # Object Lock buckets refuse a PUT without an integrity checksum.
            ChecksumAlgorithm="SHA256",
        )

    def for_date(self, date: str) -> dict[str, Anchor]:
        """Per chain of `date`, the anchor with the highest seq among all stored versions."""
        versions = list(self._versions(f"{PREFIX}/{date}/"))
        with ThreadPoolExecutor(max_workers=READERS) as pool:
            anchors = list(pool.map(self._read, versions))
        best: dict[str, Anchor] = {}
        for anchor in anchors:
            if anchor is not None and (
                anchor.chain_id not in best or anchor.seq > best[anchor.chain_id].seq
            ):
                best[anchor.chain_id] = anchor
        return best

    def _versions(self, prefix: str) -> Any:
        pages = self._s3.get_paginator("list_object_versions").paginate(
            Bucket=self._bucket, Prefix=prefix
        )
        for page in pages:
            for version in page.get("Versions", []):
                yield version["Key"], version["VersionId"]

    def _read(self, version: tuple[str, str]) -> Anchor | None:
        key, version_id = version
        chain_id = chain_of_key(key)
        response = self._s3.get_object(Bucket=self._bucket, Key=key, VersionId=version_id)
        try:
            body = json.loads(response["Body"].read())
            anchor = Anchor(
                str(body["chain_id"]), int(body["seq"]), str(body["hash"]), str(body["at"])
            )
        except (ValueError, KeyError, TypeError):
            anchor = None
        if anchor is None or anchor.chain_id != chain_id:
            # Not ours to trust; the chain's other versions still count.
            logger.warning("unreadable audit anchor", extra={"key": key, "version": version_id})
            return None
        return anchor
