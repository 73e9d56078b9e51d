"""Run a child process with the network blocked, as a user without one would.

With `unshare -n` (root, or unprivileged user namespaces) the child gets a network
namespace of its own with no interfaces up. Either way its package installers are pointed at
an unreachable index with no cache, so nothing can be fetched, found locally by pip's
config, or served from uv's cache.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Mapping, Sequence

UNREACHABLE_INDEX = "http://127.0.0.1:9/simple"
_INSTALLER_SETTINGS = ("UV_", "PIP_")


@functools.cache
def can_unshare() -> bool:
    try:
        probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    except FileNotFoundError:
        return False
    return probe.returncode == 0


def offline_command(command: Sequence[str]) -> list[str]:
    return ["unshare", "-n", *command] if can_unshare() else list(command)


def offline_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in (os.environ if base is None else base).items()
        if not key.startswith(_INSTALLER_SETTINGS)
    }
    env.update(
        UV_INDEX_URL=UNREACHABLE_INDEX,
        UV_NO_CACHE="1",
        UV_HTTP_RETRIES="0",
        PIP_INDEX_URL=UNREACHABLE_INDEX,
        PIP_NO_INDEX="1",
        PIP_NO_CACHE_DIR="1",
        PIP_CONFIG_FILE=os.devnull,
        PIP_RETRIES="0",
    )
    env.update(extra)
    return env


def run_offline(
    command: Sequence[str], cwd: str | os.PathLike[str], env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        offline_command(command),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
