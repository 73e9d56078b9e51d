"""GET /payouts/{id} and GET /customers/{id}/payouts."""

from __future__ import annotations

from tests.support import Payouts

BODY = {"customer_id": "cust-1", "amount": 12.3, "payout_method": "BankAccount"}


def test_get_payout_shows_the_public_view(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1")
    txn = payouts.post_payout(BODY).body["transaction_id"]

    response = payouts.get(f"/payouts/{txn}")

    assert response.status == 200
    assert response.body["transaction_id"] == txn
    assert response.body["amount"] == "12.30"
    assert response.body["currency"] == "AUD"
    assert response.body["payout_method"] == "BankAccount"
    assert "destinations" not in response.body
    assert "12345678" not in str(response.body)


def test_get_unknown_payout_is_404_and_bad_id_is_400(payouts: Payouts) -> None:
    missing = payouts.get("/payouts/po_nothere")
    bad = payouts.get("/payouts/bad%20id")

    assert (missing.status, missing.body["error"]) == (404, "NotFound")
    assert (bad.status, bad.body["error"]) == (400, "ValidationError")


def test_customer_payouts_are_newest_first_and_paginate(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1")
    payouts.seed_customer("cust-2")
    created = [
        payouts.post_payout(BODY, key=f"order-page-{i:04d}").body["transaction_id"]
        for i in range(5)
    ]
    payouts.post_payout({**BODY, "customer_id": "cust-2"}, key="order-other")

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = payouts.get("/customers/cust-1/payouts", query)
        assert page.status == 200
        seen += [item["transaction_id"] for item in page.body["items"]]
        pages += 1
        cursor = page.body["next_cursor"]
        if not cursor:
            break

    assert seen == list(reversed(created))
    assert pages == 3


def test_bad_cursor_limit_and_unknown_customer(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1")
    payouts.seed_customer("cust-2")
    for i in range(3):
        payouts.post_payout({**BODY, "customer_id": "cust-2"}, key=f"order-c2-{i:04d}")
    other_cursor = payouts.get("/customers/cust-2/payouts", {"limit": "1"}).body["next_cursor"]

    assert payouts.get("/customers/cust-1/payouts", {"cursor": "garbage"}).status == 400
    assert payouts.get("/customers/cust-1/payouts", {"cursor": other_cursor}).status == 400
    assert payouts.get("/customers/cust-1/payouts", {"limit": "0"}).status == 400
    assert payouts.get("/customers/cust-1/payouts", {"limit": "abc"}).status == 400
    assert payouts.get("/customers/nobody/payouts").status == 404


def test_get_customer_shows_balance_and_masked_destinations(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1", "250.00", pay_id="jane@example.com")
    payouts.post_payout({**BODY, "payout_method": "PayId"})

    response = payouts.get("/customers/cust-1")

    assert response.status == 200
    assert response.body["available_balance"] == "237.70"
    assert response.body["destinations"] == [
        {"method": "BankAccount", "status": "active", "hint": "account ending 678"},
        {"method": "PayId", "status": "active", "hint": "j***@example.com", "pay_id_type": "Email"},
    ]
    text = str(response.body)
    for secret in ("jane@example.com", "12345678", "062-205", "Jane Citizen", "data_key"):
        assert secret not in text
    assert payouts.get("/customers/nobody").status == 404
    assert payouts.get("/customers/bad%20id").status == 400
