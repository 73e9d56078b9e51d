"""The Sessions table: OTP challenges, customer sessions and the rate-limit counters.

Keys and secrets are stored only as keyed hashes (logic/otp.py makes them): `challenge#<h>`,
`session#<h>`, `limit#<name>#<h>#<window start>`. Every item carries `expires_at` (the
table's TTL); TTL deletion lags by hours, so reads check it too. Every change is one
conditional write; shared/ddb_writes tells a false condition (answered in domain errors
here) from a conflict or a throttle (retried, then `Conflict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.models.session import StoredChallenge, StoredSession
from shared import clock, ddb, ddb_writes
from shared.store_errors import ConditionFailed, StoreError

# Counter items outlive their window a little, so a late reader still sees the count.
COUNTER_GRACE_SECONDS = 60


class LimitReached(StoreError):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("limit reached")
        self.retry_after_seconds = retry_after_seconds


class ChallengeGone(StoreError):
    """No such challenge, or it expired, or it was already used."""


class ChallengeLocked(StoreError):
    """Too many attempts on this challenge."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("challenge locked")
        self.retry_after_seconds = retry_after_seconds


class SessionStore:
    def __init__(self, client: Any, table: str, retry: ddb_writes.Retry = ddb_writes.DEFAULT_RETRY):
        self.client = client
        self.table = table
        self.retry = retry

    def hit(self, name: str, key_hash: str, *, limit: int, window_seconds: int, now: int) -> None:
        """Count one request in the current fixed window; `LimitReached` once `limit` are in.

        Fixed windows: a burst straddling a boundary can reach twice the limit in one window's
        time. The limits are sized for that; a refused request is not counted.
        """
        start = now - now % window_seconds
        end = start + window_seconds
        request = {
            "TableName": self.table,
            "Key": ddb.to_item({"session_id": f"limit#{name}#{key_hash}#{start}"}),
            "UpdateExpression": "ADD hits :one SET expires_at = :exp, kind = :kind",
            "ConditionExpression": "attribute_not_exists(hits) OR hits < :limit",
            "ExpressionAttributeValues": ddb.values(
                {":one": 1, ":limit": limit, ":exp": end + COUNTER_GRACE_SECONDS, ":kind": "limit"}
            ),
        }
        try:
            ddb_writes.update(self.client, request, self.retry)
        except ConditionFailed:
            raise LimitReached(end - now) from None

    def put_challenge(self, challenge: StoredChallenge) -> None:
        """Create-only: the id is random, but a write never replaces another challenge."""
        attributes = {
            "kind": "challenge",
            "loan_account_number": challenge.loan_account_number,
            "otp_hash": challenge.otp_hash,
            "attempts": challenge.attempts,
            "expires_at": challenge.expires_at,
            "created_at": challenge.created_at,
        }
        request = {
            "TableName": self.table,
            "Key": ddb.to_item({"session_id": f"challenge#{challenge.challenge_hash}"}),
            "UpdateExpression": "SET " + ", ".join(f"{k} = :{k}" for k in attributes),
            "ConditionExpression": "attribute_not_exists(session_id)",
            "ExpressionAttributeValues": ddb.values({f":{k}": v for k, v in attributes.items()}),
        }
        ddb_writes.update(self.client, request, self.retry)

    def spend_attempt(self, challenge_hash: str, *, max_attempts: int, now: int) -> StoredChallenge:
        """Count one attempt at the challenge before its code is compared, so parallel
        guesses cannot exceed `max_attempts`; returns the challenge as counted."""
        request = {
            "TableName": self.table,
            "Key": ddb.to_item({"session_id": f"challenge#{challenge_hash}"}),
            "UpdateExpression": "ADD attempts :one",
            "ConditionExpression": (
                "kind = :challenge AND expires_at > :now AND attempts < :max"
                " AND attribute_not_exists(used_at)"
            ),
            "ExpressionAttributeValues": ddb.values(
                {":one": 1, ":challenge": "challenge", ":now": now, ":max": max_attempts}
            ),
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            item = ddb_writes.update(self.client, request, self.retry)
        except ConditionFailed as failed:
            raise _why_refused(failed.current, now, max_attempts) from None
        assert item is not None  # ReturnValues ALL_NEW always answers the item
        return _challenge(challenge_hash, item)

    def open_session(self, challenge_hash: str, session: StoredSession, *, now: int) -> None:
        """Use the challenge up and create the session, both or neither; `ChallengeGone` if
        another request used it first."""
        items = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": ddb.to_item({"session_id": f"challenge#{challenge_hash}"}),
                    "UpdateExpression": "SET used_at = :at",
                    "ConditionExpression": "attribute_not_exists(used_at) AND expires_at > :now",
                    "ExpressionAttributeValues": ddb.values(
                        {":at": session.created_at, ":now": now}
                    ),
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": ddb.to_item(
                        {
                            "session_id": f"session#{session.token_hash}",
                            "kind": "session",
                            "loan_account_number": session.loan_account_number,
                            "expires_at": session.expires_at,
                            "created_at": session.created_at,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(session_id)",
                }
            },
        ]
        try:
            ddb_writes.transact(self.client, items, self.retry)
        except ddb_writes.Cancelled:
            raise ChallengeGone("the challenge was used or expired meanwhile") from None

    def session(self, token_hash: str, *, now: int) -> StoredSession | None:
        """The live session, or None (none, expired but not yet swept by TTL)."""
        response = self.client.get_item(
            TableName=self.table,
            Key=_session_key(token_hash),
            # Read what was just written: a client uses its token the moment it has it.
            ConsistentRead=True,
        )
        return _live_session(token_hash, ddb.from_item(response.get("Item")), now)

    def session_with(
        self, token_hash: str, reads: Sequence[dict[str, Any]], *, now: int
    ) -> tuple[StoredSession | None, list[dict[str, Any] | None]]:
        """The live session (or None, as `session` answers) and the items `reads` names
        (`{"Get": ...}` items of other stores), in one strongly consistent TransactGetItems.

        The other items come back whatever the session is: the caller uses them only once
        the session is known good.
        """
        get = {"Get": {"TableName": self.table, "Key": _session_key(token_hash)}}
        session, *items = ddb_writes.transact_get(self.client, [get, *reads], self.retry)
        return _live_session(token_hash, session, now), items


def _session_key(token_hash: str) -> dict[str, Any]:
    return ddb.to_item({"session_id": f"session#{token_hash}"})


def _live_session(token_hash: str, item: dict[str, Any] | None, now: int) -> StoredSession | None:
    if not item or item.get("kind") != "session" or int(item["expires_at"]) <= now:
        return None
    return StoredSession(
        token_hash=token_hash,
        loan_account_number=str(item["loan_account_number"]),
        expires_at=int(item["expires_at"]),
        created_at=str(item["created_at"]),
    )


def _why_refused(current: dict[str, Any] | None, now: int, max_attempts: int) -> StoreError:
    if not current or current.get("kind") != "challenge" or "used_at" in current:
        return ChallengeGone("no such challenge, or it was used")
    expires_at = int(current["expires_at"])
    if expires_at <= now:
        return ChallengeGone("the challenge expired")
    if int(current.get("attempts", 0)) >= max_attempts:
        return ChallengeLocked(expires_at - now)
    return ChallengeGone("the challenge changed meanwhile")


def _challenge(challenge_hash: str, item: dict[str, Any]) -> StoredChallenge:
    return StoredChallenge(
        challenge_hash=challenge_hash,
        loan_account_number=str(item["loan_account_number"]),
        otp_hash=str(item["otp_hash"]),
        attempts=int(item["attempts"]),
        expires_at=int(item["expires_at"]),
        created_at=str(item.get("created_at", clock.iso(clock.now()))),
    )
