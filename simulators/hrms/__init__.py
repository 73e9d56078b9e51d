"""HRMS (DarwinBox) employee API simulator, speaking docs/hrms-api.yml.

Start one with ``HrmsSimulator(api_user, api_password, api_key,
employees=demo_employees()).start()`` or ``python -m simulators.hrms``.
"""

from simulators.hrms.demo import demo_employees
from simulators.hrms.server import MODES, HrmsSimulator

__all__ = ["MODES", "HrmsSimulator", "demo_employees"]
