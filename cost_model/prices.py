"""Committed price tables: `prices/<region>.json`, every line with its source page and date.

A line's `usd` is the price of `per` units, so `unit_price` divides. Global services
(CloudFront, Route 53) are billed from us-east-1 and live only in that table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

PRICES_DIR = Path(__file__).with_name("prices")
REGIONS = ("ap-southeast-2", "ap-south-1", "ap-southeast-1", "us-east-1")
GLOBAL_REGION = "us-east-1"


class MissingPrice(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Price:
    key: str
    usd: Decimal
    per: int
    unit: str
    source: str
    date: str

    @property
    def unit_price(self) -> Decimal:
        return self.usd / self.per


@dataclass(frozen=True)
class PriceTable:
    region: str
    version: str
    prices: dict[str, Price]

    def __call__(self, key: str) -> Decimal:
        """The price of one unit."""
        return self.line(key).unit_price

    def line(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            raise MissingPrice(
                f"no price {key!r} in cost_model/prices/{self.region}.json: add the line "
                "with its source page and date"
            ) from None


@cache
def table(region: str) -> PriceTable:
    path = PRICES_DIR / f"{region}.json"
    if not path.exists():
        raise MissingPrice(f"no price table for region {region} (expected {path})")
    document = json.loads(path.read_text())
    prices = {
        key: Price(
            key=key,
            usd=Decimal(line["usd"]),
            per=int(line["per"]),
            unit=line["unit"],
            source=line["source"],
            date=line["date"],
        )
        for key, line in document["prices"].items()
    }
    return PriceTable(region=document["region"], version=document["version"], prices=prices)
