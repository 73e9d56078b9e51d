"""Shared values for the Monoova body and client tests."""

from __future__ import annotations

from payouts.models.payout import Destination
from payouts.settings import MonoovaSettings

SETTINGS = MonoovaSettings(
    base_url="https://api.m-pay.com.au",
    api_secret_arn="arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:monoova",
    maccount_token="6279059726039800",
    source_bsb="802-985",
    source_account_number="100200300",
    remitter_name="Acme Pty Ltd",
    timeout_seconds=4.0,
)
REFERENCE = "po_0123456789abcdef0123456789abcdef"  # 35 characters, as issued
PAY_ID = Destination(
    method="PayId", account_name="Jane Citizen", pay_id="jane@example.com", pay_id_type="Email"
)
BANK = Destination(
    method="BankAccount", account_name="Jane Citizen", bsb="062-205", account_number="12345678"
)
