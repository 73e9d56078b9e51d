"""Sealing and opening payout destinations with the field crypto (shared/fieldcrypto.py).

A sealed destination is a map: the method, the PayID type (not secret), the encrypted data
key and one AES-GCM token per protected field, each bound to `scope` (the customer's entry
or the one payout it was first sent for), so a value copied elsewhere does not open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from payouts.models.payout import Destination

if TYPE_CHECKING:  # cryptography loads only where destinations are opened
    from shared.fieldcrypto import FieldCrypto

PROTECTED = {
    "PayId": ("pay_id", "account_name"),
    "BankAccount": ("bsb", "account_number", "account_name"),
}


def customer_scope(customer_id: str, method: str) -> str:
    return f"customer/{customer_id}/{method}"


def payout_scope(transaction_id: str) -> str:
    return f"payout/{transaction_id}/destination"


def seal(crypto: FieldCrypto, scope: str, destination: Destination) -> dict[str, Any]:
    fields = {name: str(getattr(destination, name)) for name in PROTECTED[destination.method]}
    data_key, tokens = crypto.seal(scope, fields)
    sealed: dict[str, Any] = {"method": destination.method, "data_key": data_key, **tokens}
    if destination.pay_id_type:
        sealed["pay_id_type"] = destination.pay_id_type
    return sealed


def open_sealed(
    crypto: FieldCrypto, scope: str, sealed: dict[str, Any], method: str
) -> Destination:
    """Raises FieldDecryptionError when a token was tampered with or belongs elsewhere."""
    names = PROTECTED[method]
    opened = crypto.open(scope, bytes(sealed["data_key"]), {name: sealed[name] for name in names})
    return Destination(method=method, pay_id_type=sealed.get("pay_id_type"), **opened)


class DestinationUnavailable(Exception):
    """A payout has no destination snapshot, or it does not open: it cannot be sent again."""


class PayoutDestinations:
    """The destination a payout was created with, sealed onto the payout itself.

    A resubmission sends exactly what was first sent: the customer may since have changed or
    deactivated the destination, and the same uniqueReference must never reach another account.
    """

    def __init__(self, crypto: FieldCrypto) -> None:
        self._crypto = crypto

    def seal(self, transaction_id: str, destination: Destination) -> dict[str, Any]:
        return seal(self._crypto, payout_scope(transaction_id), destination)

    def open(self, payout: dict[str, Any]) -> Destination:
        from shared.fieldcrypto import FieldDecryptionError  # noqa: PLC0415 - see module top

        sealed = payout.get("destination")
        if not isinstance(sealed, dict) or sealed.get("method") != payout.get("payout_method"):
            raise DestinationUnavailable("the payout holds no destination snapshot")
        try:
            return open_sealed(
                self._crypto, payout_scope(payout["transaction_id"]), sealed, sealed["method"]
            )
        except (FieldDecryptionError, KeyError) as exc:
            raise DestinationUnavailable("the destination snapshot does not open") from exc
