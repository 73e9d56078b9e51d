"""shared.jsonutil: exact money in and out of JSON."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shared import jsonutil
from shared.jsonutil import InvalidJson


def floats_in(value: Any) -> list[Any]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in floats_in(v)]
    if isinstance(value, list):
        return [f for v in value for f in floats_in(v)]
    return []


def test_loads_reads_fractions_as_decimal_and_never_float() -> None:
    parsed = jsonutil.loads('{"a": 100.10, "b": [0.1, {"c": -2.50, "d": 1e2}], "e": 7}')

    assert floats_in(parsed) == []
    assert parsed["a"] == Decimal("100.10")
    assert str(parsed["a"]) == "100.10"  # the written exponent is kept
    assert parsed["b"][0] == Decimal("0.1")
    assert str(parsed["b"][1]["c"]) == "-2.50"
    assert parsed["b"][1]["d"] == Decimal(100)
    assert isinstance(parsed["b"][1]["d"], Decimal)
    assert parsed["e"] == 7
    assert type(parsed["e"]) is int


def test_loads_accepts_bytes() -> None:
    assert jsonutil.loads(b'{"amount": 0.30}') == {"amount": Decimal("0.30")}


@pytest.mark.parametrize(
    "text", ["NaN", '{"a": NaN}', '{"a": Infinity}', "[-Infinity]", b'{"a": NaN}']
)
def test_loads_rejects_non_finite_numbers(text: str | bytes) -> None:
    with pytest.raises(InvalidJson):
        jsonutil.loads(text)


@pytest.mark.parametrize("text", ["", "{", "{'a': 1}", '{"a": 1,}', b"\xff\xfe\x00", "01"])
def test_loads_rejects_non_json(text: str | bytes) -> None:
    with pytest.raises(InvalidJson):
        jsonutil.loads(text)


def test_invalid_json_is_a_value_error() -> None:
    assert issubclass(InvalidJson, ValueError)


def test_dumps_exact_writes_decimals_as_bare_numbers() -> None:
    value = {
        "totalAmount": Decimal("100.10"),
        "disbursements": [{"amount": Decimal("100.10"), "fees": [Decimal("0.01")]}],
        "pair": (Decimal("-5.5"), Decimal("1E+2")),
        "text": "100.10",
        "n": 3,
        "flag": True,
        "none": None,
    }

    text = jsonutil.dumps_exact(value)

    assert text == (
        '{"totalAmount":100.10,"disbursements":[{"amount":100.10,"fees":[0.01]}],'
        '"pair":[-5.5,100],"text":"100.10","n":3,"flag":true,"none":null}'
    )
    assert "100.1," not in text
    assert jsonutil.loads(text)["totalAmount"] == Decimal("100.10")
    assert str(jsonutil.loads(text)["disbursements"][0]["amount"]) == "100.10"


def test_dumps_exact_does_not_round_through_float() -> None:
    exact = Decimal("12345678901234567890.12")

    assert jsonutil.dumps_exact({"v": exact}) == '{"v":12345678901234567890.12}'


def test_dumps_exact_keeps_unicode_text() -> None:
    assert jsonutil.dumps_exact({"name": "Zoë"}) == '{"name":"Zoë"}'


def test_dumps_exact_never_changes_a_string() -> None:
    value = {"accountName": "\x00dec:5"}

    assert jsonutil.loads(jsonutil.dumps_exact(value)) == value


def test_dumps_writes_decimals_as_strings() -> None:
    text = jsonutil.dumps({"amount": Decimal("100.10"), "items": [Decimal("0.5"), 2]})

    assert text == '{"amount":"100.10","items":["0.5",2]}'


def test_dumps_refuses_unknown_types() -> None:
    with pytest.raises(TypeError, match="set is not JSON serialisable"):
        jsonutil.dumps({"x": {1, 2}})


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        '{"amount": ' + "1" * 4_301 + "}",
        "-" + "9" * 10_000,
    ],
    ids=["arrays-100k-deep", "objects-100k-deep", "int-4301-digits", "int-10000-digits"],
)
def test_loads_refuses_what_the_parser_cannot_read_as_invalid_json(text: str) -> None:
    with pytest.raises(InvalidJson):
        jsonutil.loads(text)


def test_loads_still_reads_a_long_fraction_and_the_longest_integer() -> None:
    assert jsonutil.loads("0." + "1" * 5_000) == Decimal("0." + "1" * 5_000)
    assert jsonutil.loads("7" * 4_300) == int("7" * 4_300)
