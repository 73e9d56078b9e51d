"""Kept for callers that import it from here; the helpers live in :mod:`simulators.common`."""

from simulators.common.jsonutil import dumps, loads

__all__ = ["dumps", "loads"]
