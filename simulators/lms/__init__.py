"""LMS simulator (the lender's FinnOne behind MuleSoft), speaking docs/lms-api.yml.

Start one with ``LmsSimulator(client_id, client_secret, loans=demo_loans()).start()`` or
``python -m simulators.lms``.
"""

from simulators.lms.demo import demo_loans
from simulators.lms.server import MODES, LmsSimulator

__all__ = ["MODES", "LmsSimulator", "demo_loans"]
