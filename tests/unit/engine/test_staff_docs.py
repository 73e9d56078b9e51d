"""docs/staff-engine.md's role and permission table is the declaration's, not a copy that
drifts: a permission granted in engine.models.rbac shows in the README's linked page."""

from __future__ import annotations

import re
from pathlib import Path

from engine.declarations import INTERNAL_ROUTES
from engine.models import rbac

DOC = Path(__file__).resolve().parents[3] / "docs" / "staff-engine.md"
BLOCK = re.compile(r"<!-- rbac-table:[^>]*-->\n(.*?)<!-- /rbac-table -->", re.S)


def declared_table() -> str:
    roles = rbac.ROLES
    lines = [
        "| Permission | " + " | ".join(r.name for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for permission in sorted(rbac.PERMISSIONS):
        marks = " | ".join("✓" if permission in r.permissions else "" for r in roles)
        lines.append(f"| `{permission}` | {marks} |")
    reaches = " | ".join(r.reach.value.replace("_", " ") for r in roles)
    lines.append(f"| *reach* | {reaches} |")
    return "\n".join(lines) + "\n"


def test_the_documented_table_is_the_declared_one() -> None:
    found = BLOCK.search(DOC.read_text(encoding="utf-8"))
    assert found is not None, "docs/staff-engine.md lost its rbac-table block"
    assert found.group(1) == declared_table()


def test_every_permission_is_held_by_some_role_and_every_route_names_a_declared_one() -> None:
    held = set().union(*(r.permissions for r in rbac.ROLES))
    assert held == rbac.PERMISSIONS
    named = {r.permission for r in INTERNAL_ROUTES if r.auth == "cognito"}
    assert None not in named, "a staff route without a permission"
    assert named <= rbac.PERMISSIONS
    scopes = {r.scope for r in INTERNAL_ROUTES if r.auth == "cognito"}
    assert scopes <= {s.value for s in rbac.Scope}
