"""Who may do what on the internal API, declared once (seed §3.1, §7.2).

Each internal route names a permission and the scope its data is bounded by
(engine.declarations); each role holds permissions and a reach. The staff pool's groups are
the roles (stacks.engine.api creates one group per role), the users row gives the branch, and
`engine.handlers.internal.staff.authorize` checks a request against both. The OpenAPI
document shows each operation's permission (`x-permission`), and the RBAC matrix test drives
every route as every role from this same table.

* Scope (a route's): `all_branches` data has no branch (the audit trail, the LMS outbox);
  `own_branch` data belongs to one branch (a DCR, a branch's collections); `own_records` data
  belongs to one branch and the staff member who made it (a field officer's collection).
* Reach (a role's): how far its permissions extend. A role with `all_branches` reach may act
  on any branch's data; `own_branch`, its own branch's; `own_records`, its own records in its
  own branch. A role without a permission has no reach for it at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    OWN_RECORDS = "own_records"
    OWN_BRANCH = "own_branch"
    ALL_BRANCHES = "all_branches"


_WIDTH = {Scope.OWN_RECORDS: 0, Scope.OWN_BRANCH: 1, Scope.ALL_BRANCHES: 2}

# --- Permissions: `<area>:<verb>`.
COLLECTIONS_CREATE = "collections:create"  # take a cash/cheque/DD collection
COLLECTIONS_READ = "collections:read"
COLLECTIONS_CANCEL = "collections:cancel"  # cancel a wrong receipt (same day, before approval)
DCR_READ = "dcr:read"
DCR_PREPARE = "dcr:prepare"  # count the DBS, submit the day (the maker)
DCR_APPROVE = "dcr:approve"  # approve or reject a submitted DCR (the checker)
AUDIT_READ = "audit:read"  # read and verify the audit trail
LMS_READ = "lms:read"  # the LMS outbox by status
LMS_ACT = "lms:act"  # retry or resolve an EXCEPTION posting by hand
USERS_READ = "users:read"
USERS_MANAGE = "users:manage"  # grant or change a role, (de)activate a user

PERMISSIONS = frozenset(
    {
        COLLECTIONS_CREATE,
        COLLECTIONS_READ,
        COLLECTIONS_CANCEL,
        DCR_READ,
        DCR_PREPARE,
        DCR_APPROVE,
        AUDIT_READ,
        LMS_READ,
        LMS_ACT,
        USERS_READ,
        USERS_MANAGE,
    }
)


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    precedence: int  # the Cognito group's precedence (lower wins)
    reach: Scope
    permissions: frozenset[str]


_HEAD_OFFICE = frozenset({COLLECTIONS_READ, DCR_READ, AUDIT_READ, LMS_READ, LMS_ACT})

# Seed §3.1's user groups. Segregation of duties: cashiers and field officers take money and
# prepare the day, only a branch manager cancels a receipt or approves the day (and never one
# they submitted: engine.logic.dcr); head office reads everything and takes no cash.
ROLES: tuple[Role, ...] = (
    Role(
        "SuperAdmin",
        "System super administrators",
        1,
        Scope.ALL_BRANCHES,
        _HEAD_OFFICE | {USERS_READ, USERS_MANAGE},
    ),
    Role(
        "Admin",
        "System administrators",
        2,
        Scope.ALL_BRANCHES,
        _HEAD_OFFICE | {USERS_READ, USERS_MANAGE},
    ),
    Role(
        "FinanceTeam",
        "Finance: reconciliation and reporting",
        3,
        Scope.ALL_BRANCHES,
        _HEAD_OFFICE,
    ),
    Role(
        "BranchManager",
        "Branch managers: approvals for their branch",
        4,
        Scope.OWN_BRANCH,
        # No LMS_READ: the outbox listing spans every branch.
        frozenset({COLLECTIONS_READ, COLLECTIONS_CANCEL, DCR_READ, DCR_APPROVE, USERS_READ}),
    ),
    Role(
        "BranchCashier",
        "Branch cashiers: cash collection and DCR",
        5,
        Scope.OWN_BRANCH,
        frozenset({COLLECTIONS_CREATE, COLLECTIONS_READ, DCR_READ, DCR_PREPARE}),
    ),
    Role(
        "FieldOfficer",
        "Field officers: collections in the field",
        6,
        Scope.OWN_RECORDS,
        frozenset({COLLECTIONS_CREATE, COLLECTIONS_READ}),
    ),
)
ROLES_BY_NAME = {role.name: role for role in ROLES}


def reach_for(roles: frozenset[str], permission: str) -> Scope | None:
    """The widest reach any of `roles` gives `permission`; None when none holds it."""
    reaches = [
        ROLES_BY_NAME[name].reach
        for name in roles
        if name in ROLES_BY_NAME and permission in ROLES_BY_NAME[name].permissions
    ]
    return max(reaches, key=_WIDTH.__getitem__) if reaches else None


def covers(reach: Scope, needed: Scope) -> bool:
    """Whether a role's reach extends at least as wide as the target needs."""
    return _WIDTH[reach] >= _WIDTH[needed]


def channel_for(roles: frozenset[str]) -> str:
    """A collection's channel: BRANCH when taken by branch staff, FIELD by a field officer."""
    return "BRANCH" if "BranchCashier" in roles else "FIELD"
