"""The pinned cfn-lint, found beside this interpreter; shared by every system's lint tests."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

TOLERATED_WARNINGS = {"W3005"}
WARNING_OR_INFO_BITS = 4 | 8


def cfn_lint() -> str:
    beside_python = Path(sys.executable).with_name("cfn-lint")
    found = str(beside_python) if beside_python.exists() else shutil.which("cfn-lint")
    assert found, "cfn-lint is not installed (requirements-dev.txt pins it)"
    return found
