"""Monoova Payments API simulator (NPP payouts): HTTP server, spec validation, webhooks.

Start one with ``MonoovaSimulator(api_key=...).start()`` or ``python -m simulators.monoova``.
"""

from simulators.monoova.server import MODES, MonoovaSimulator
from simulators.monoova.spec import SpecValidator, default_spec_path, load_spec

__all__ = ["MODES", "MonoovaSimulator", "SpecValidator", "default_spec_path", "load_spec"]
