"""Handlers of the constructs' own custom resources (inline code: each file is one handler)."""
