"""local/environ.py: each function's environment over the process's, per thread."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from local import environ


@pytest.fixture(autouse=True)
def installed() -> Iterator[None]:
    """Installed for each test, and the process's own os.environ put back after it."""
    environ.install()
    yield
    environ.uninstall()


def test_a_scope_sees_its_own_values_over_the_process_environment() -> None:
    os.environ["LOCAL_ENVIRON_TEST_BASE"] = "base"
    with environ.scoped({"LOCAL_ENVIRON_TEST": "inside"}):
        assert os.environ["LOCAL_ENVIRON_TEST"] == "inside"
        assert os.getenv("LOCAL_ENVIRON_TEST") == "inside"
        assert os.environ["LOCAL_ENVIRON_TEST_BASE"] == "base"
        os.environ["LOCAL_ENVIRON_TEST_WRITTEN"] = "kept in the scope"
        assert "LOCAL_ENVIRON_TEST" in dict(os.environ)
    assert "LOCAL_ENVIRON_TEST" not in os.environ
    assert "LOCAL_ENVIRON_TEST_WRITTEN" not in os.environ  # a write does not leak out
    del os.environ["LOCAL_ENVIRON_TEST_BASE"]


def test_two_threads_each_see_their_own_scope() -> None:
    seen: dict[str, str | None] = {}
    ready = threading.Barrier(2)

    def run(name: str) -> None:
        with environ.scoped({"LOCAL_ENVIRON_TABLE": f"{name}-table"}):
            ready.wait(5)  # both scopes are open at once
            seen[name] = os.environ.get("LOCAL_ENVIRON_TABLE")

    threads = [threading.Thread(target=run, args=(n,)) for n in ("payouts", "engine")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert seen == {"payouts": "payouts-table", "engine": "engine-table"}


def test_scopes_nest_and_restore() -> None:
    with environ.scoped({"A_LOCAL": "1", "B_LOCAL": "1"}):
        with environ.scoped({"B_LOCAL": "2"}):
            assert (os.environ["A_LOCAL"], os.environ["B_LOCAL"]) == ("1", "2")
        assert os.environ["B_LOCAL"] == "1"
    assert "A_LOCAL" not in os.environ


def test_uninstall_puts_the_process_mapping_back() -> None:
    environ.uninstall()
    assert type(os.environ).__name__ == "_Environ"
