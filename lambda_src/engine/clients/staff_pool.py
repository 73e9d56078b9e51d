"""The staff Cognito user pool, as the engine administers it: group membership (the roles),
disabling leavers, creating joiners. Every call is idempotent, so a step that failed after
PostgreSQL changed can simply be run again (the HRMS sync, a repeated role change)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.store_errors import Unavailable

_ABSENT = "UserNotFoundException"


class NotInPool(LookupError):
    """The staff pool holds no such user (not yet created by the HRMS sync)."""


class StaffPoolUnavailable(Unavailable):
    """Cognito did not answer, or refused for a reason a repeat may clear (a throttle)."""


class StaffPool:
    def __init__(self, client: Any, user_pool_id: str) -> None:
        self.client = client
        self.user_pool_id = user_pool_id

    def groups_of(self, username: str) -> frozenset[str]:
        """The user's groups; empty for a user the pool does not hold."""
        names: set[str] = set()
        kwargs: dict[str, Any] = {"UserPoolId": self.user_pool_id, "Username": username}
        try:
            while True:
                page = self.client.admin_list_groups_for_user(**kwargs)
                names.update(g["GroupName"] for g in page.get("Groups", []))
                if not page.get("NextToken"):
                    return frozenset(names)
                kwargs["NextToken"] = page["NextToken"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == _ABSENT:
                return frozenset()
            raise

    def set_only_group(self, username: str, group: str, managed: frozenset[str]) -> frozenset[str]:
        """Make `group` the user's one role among `managed` (other groups are left alone);
        return the managed groups they were in before. Raises NotInPool, or
        StaffPoolUnavailable when Cognito fails (a repeat finishes what was left)."""
        try:
            current = self.groups_of(username)
            if group not in current:
                self.client.admin_add_user_to_group(
                    UserPoolId=self.user_pool_id, Username=username, GroupName=group
                )
            for stale in sorted((current & managed) - {group}):
                self.client.admin_remove_user_from_group(
                    UserPoolId=self.user_pool_id, Username=username, GroupName=stale
                )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == _ABSENT:
                raise NotInPool("the staff pool has no such user") from None
            raise StaffPoolUnavailable(f"the staff pool refused: {code}") from exc
        except BotoCoreError as exc:
            raise StaffPoolUnavailable(f"the staff pool failed: {type(exc).__name__}") from exc
        return current & managed

    def disable(self, username: str) -> bool:
        """Disable sign-in (a leaver); False when the pool has no such user."""
        try:
            self.client.admin_disable_user(UserPoolId=self.user_pool_id, Username=username)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == _ABSENT:
                return False
            raise
        return True

    def create(self, username: str, email: str) -> bool:
        """A joiner's account, in no group (an admin grants the role); Cognito e-mails the
        temporary password. False when the user exists already (a repeated sync)."""
        try:
            self.client.admin_create_user(
                UserPoolId=self.user_pool_id,
                Username=username,
                UserAttributes=[
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                ],
                DesiredDeliveryMediums=["EMAIL"],
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "UsernameExistsException":
                return False
            raise
        return True
