"""RazorPay payment gateway simulator (India): orders, payments, refunds, checkout, webhooks.

Start one with ``RazorpaySimulator(key_id, key_secret, webhook_secret).start()`` or
``python -m simulators.razorpay``.
"""

from simulators.razorpay.server import MODES, RazorpaySimulator

__all__ = ["MODES", "RazorpaySimulator"]
