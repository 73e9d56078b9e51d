"""Local simulators of third-party provider APIs, used by integration tests and local runs."""
