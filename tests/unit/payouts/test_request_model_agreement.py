"""The gateway's request model and the handler's parser agree on every body.

API Gateway validates POST /payouts against CREATE_PAYOUT_REQUEST before the function runs;
the handler then parses the same body. A body the model passes but the code refuses (as
`amount: 10.005` was before the model had `multipleOf`) is a rule the gateway does not
carry. Each body of the corpus goes through both; they must give the same verdict.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from payouts.logic.validation import parse_create_request
from payouts.models.api import CREATE_PAYOUT_REQUEST
from shared import jsonutil
from shared.http import ValidationError

KEY = "idem-key-0001"
OK = {"customer_id": "cust-1", "amount": 10, "payout_method": "PayId"}


def with_(**changes: Any) -> dict[str, Any]:
    body = {**OK, **changes}
    return {k: v for k, v in body.items() if v is not _DROP}


_DROP = object()
AMOUNTS = [
    "0.01",
    "0.07",
    "0.1",
    "0.29",
    "1",
    "10",
    "10.5",
    "10.50",
    "10.005",
    "10.001",
    "0.001",
    "999.99",
    "1000",
    "1000.00",
    "1000.01",
    "1000.001",
    "0",
    "-0",
    "-1",
    "-0.01",
    "0.009",
    "1e2",
    "1E+2",
    "1e-2",
    "1.0e1",
    "2.5e-1",
    "1e3",
    "1.00000000001",
    "33.330",
    "12.3400",
    "1e400",
    "1e-400",
    "5e-3",
    "100.100",
]
CORPUS: dict[str, str] = {
    f"amount {a}": json.dumps(OK)[:-1] + f', "amount": {a}}}' for a in AMOUNTS
}
CORPUS |= {
    f"body {name}": json.dumps(body)
    for name, body in {
        "ok": OK,
        "bank": with_(payout_method="BankAccount"),
        "amount as string": with_(amount="10.00"),
        "amount true": with_(amount=True),
        "amount null": with_(amount=None),
        "amount list": with_(amount=[10]),
        "amount object": with_(amount={"value": 10}),
        "method Cash": with_(payout_method="Cash"),
        "method lower": with_(payout_method="payid"),
        "method null": with_(payout_method=None),
        "method number": with_(payout_method=1),
        "customer empty": with_(customer_id=""),
        "customer 64": with_(customer_id="c" * 64),
        "customer 65": with_(customer_id="c" * 65),
        "customer space": with_(customer_id="cust 1"),
        "customer underscore": with_(customer_id="cust_1"),
        "customer newline": with_(customer_id="cust-1\n"),
        "customer leading newline": with_(customer_id="\ncust-1"),
        "customer unicode digits": with_(customer_id="cust-\u0661\u0662"),
        "customer accented": with_(customer_id="cafe\u0301"),
        "customer number": with_(customer_id=12345),
        "customer null": with_(customer_id=None),
        "missing amount": with_(amount=_DROP),
        "missing method": with_(payout_method=_DROP),
        "missing customer": with_(customer_id=_DROP),
        "extra field": with_(note="hi"),
        "extra null field": with_(note=None),
        "empty object": {},
    }.items()
}
CORPUS |= {
    "an array": json.dumps([OK]),
    "a string": json.dumps("hello"),
    "a number": "10",
    "null": "null",
    "true": "true",
}


def model_accepts(document: Any) -> bool:
    # As API Gateway reads it: numbers compared exactly (Decimal), not through binary floats.
    schema = {k: v for k, v in CREATE_PAYOUT_REQUEST.items() if k != "$schema"}
    exact = json.loads(json.dumps(schema), parse_float=Decimal)
    return jsonschema.Draft4Validator(exact).is_valid(document)


def handler_accepts(document: Any) -> bool:
    try:
        parse_create_request(document, KEY)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("raw", CORPUS.values(), ids=CORPUS.keys())
def test_the_model_and_the_handler_give_the_same_verdict(raw: str) -> None:
    document = jsonutil.loads(raw)

    assert model_accepts(document) == handler_accepts(document)


def test_the_corpus_has_both_verdicts() -> None:
    verdicts = {handler_accepts(jsonutil.loads(raw)) for raw in CORPUS.values()}
    assert verdicts == {True, False}


def test_the_model_carries_the_two_decimal_rule() -> None:
    amount = CREATE_PAYOUT_REQUEST["properties"]["amount"]
    assert amount == {"type": "number", "minimum": 0.01, "maximum": 1000, "multipleOf": 0.01}
