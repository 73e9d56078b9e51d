"""The systems' declared schedules as the runner keeps them: when each runs next, by its own
expression (EventBridge's `rate(...)` or `cron(...)`, in UTC) or at the pace the runner was
told (`--fast`, `--every NAME=SECONDS`), and what `POST /_local/jobs/{name}` runs.

A cron expression is AWS's six fields: minutes, hours, day of month, month, day of week
(1-7 = SUN-SAT, or SUN..SAT), year; `*`, `?`, lists, ranges and `/` steps. `L`, `W` and `#`
are not modelled: such a schedule is not run on a timer (the banner says so) but can still
be run with `POST /_local/jobs/{name}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.declarations import Schedule

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# Field: (lowest, highest, names for lowest.. in order)
_FIELDS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (0, 59, ()),  # minutes
    (0, 23, ()),  # hours
    (1, 31, ()),  # day of month
    (1, 12, _MONTHS),
    (1, 7, _DAYS),  # day of week, 1 = SUN
    (1970, 2199, ()),  # year
)
_HORIZON_DAYS = 4 * 366  # no fire time within this: the expression never fires


class UnsupportedExpression(ValueError):
    """An expression the runner cannot time (it can still run the job on demand)."""


def rate_seconds(expression: str) -> float | None:
    """`rate(5 minutes)` -> 300.0; None for anything that is not a rate."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    if count < 1:
        raise UnsupportedExpression(f"{expression}: a rate is at least 1")
    return float(count * _UNIT_SECONDS[unit])


def _field(text: str, index: int) -> frozenset[int] | None:
    """The values a field allows; None for `*` or `?` (any)."""
    low, high, names = _FIELDS[index]
    if text in ("*", "?"):
        return None
    allowed: set[int] = set()
    for item in text.split(","):
        part, slash, raw_step = item.partition("/")
        step = _number(raw_step, index, (), 0) if slash else 1
        if step < 1:
            raise UnsupportedExpression(f"step {raw_step} in {text!r}")
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _number(first, index, names, low), _number(last, index, names, low)
        else:
            start = _number(part, index, names, low)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise UnsupportedExpression(f"{text!r} is outside {low}-{high}")
        allowed.update(range(start, end + 1, step))
    return frozenset(allowed)


def _number(text: str, index: int, names: tuple[str, ...], low: int) -> int:
    upper = text.upper()
    if upper in names:
        return low + names.index(upper)
    if not text.isdigit():
        raise UnsupportedExpression(f"{text!r} in field {index + 1} is not modelled locally")
    return int(text)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days: frozenset[int] | None
    months: frozenset[int] | None
    weekdays: frozenset[int] | None  # 1 = Sunday
    years: frozenset[int] | None

    @classmethod
    def parse(cls, expression: str) -> Cron:
        match = _CRON.match(expression.strip())
        if not match:
            raise UnsupportedExpression(f"{expression}: not a cron(...) expression")
        fields = match.group(1).split()
        if len(fields) != len(_FIELDS):
            raise UnsupportedExpression(f"{expression}: a cron has six fields")
        return cls(*(_field(text, i) for i, text in enumerate(fields)))

    def next_after(self, moment: datetime) -> datetime:
        """The first whole minute strictly after `moment` (UTC) the expression fires at."""
        at = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = at.replace(hour=0, minute=0)
        for _ in range(_HORIZON_DAYS):
            if self._day_matches(day):
                for hour in range(24):
                    if self.hours is not None and hour not in self.hours:
                        continue
                    for minute in range(60):
                        if self.minutes is not None and minute not in self.minutes:
                            continue
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= at:
                            return candidate
            day += timedelta(days=1)
        raise UnsupportedExpression("the expression never fires in the next four years")

    def _day_matches(self, day: datetime) -> bool:
        weekday = (day.isoweekday() % 7) + 1  # Monday 1 -> 2, Sunday 7 -> 1
        return (
            (self.years is None or day.year in self.years)
            and (self.months is None or day.month in self.months)
            and (self.days is None or day.day in self.days)
            and (self.weekdays is None or weekday in self.weekdays)
        )


def timer(expression: str) -> Callable[[], float]:
    """Seconds from now until the expression next fires (a rate: its interval each time).
    Raises UnsupportedExpression for what cannot be timed locally."""
    every = rate_seconds(expression)
    if every is not None:
        return lambda: every
    cron = Cron.parse(expression)
    return lambda: max(
        1.0, (cron.next_after(datetime.now(UTC)) - datetime.now(UTC)).total_seconds()
    )


@dataclass(frozen=True)
class Job:
    """A declared schedule of one system, and how the runner paces it."""

    system: str
    schedule: Schedule
    # Seconds between runs, the runner's choice (--fast, --every); None: the expression's
    # own timing; 0: never on a timer (only POST /_local/jobs/{name}).
    every: float | None = None

    @property
    def name(self) -> str:
        return self.schedule.name

    @property
    def function(self) -> str:
        return self.schedule.function

    def event(self) -> dict[str, object]:
        """What the rule's target sends: its input when it has one (the stacks'
        RuleTargetInput), here marked as the runner's."""
        return {"source": "local.schedule", **self.schedule.payload}

    def delay(self) -> Callable[[], float] | None:
        """Seconds until the next timed run, or None when it is not run on a timer."""
        if self.every == 0:
            return None
        if self.every is not None:
            every = self.every
            return lambda: every
        try:
            return timer(self.schedule.expression)
        except UnsupportedExpression:
            return None

    def pace(self) -> str:
        """For the banner and GET /_local/jobs: how often it runs here."""
        if self.every == 0:
            return "on demand only"
        if self.every is not None:
            return f"every {self.every:g} s"
        seconds = rate_seconds(self.schedule.expression)
        if seconds is not None:
            return f"every {seconds:g} s"
        return self.schedule.expression if self.delay() else "on demand only (not modelled)"

    def describe(self) -> dict[str, object]:
        delay = self.delay()
        seconds = rate_seconds(self.schedule.expression) if self.every is None else self.every
        return {
            "job": self.name,
            "function": self.function,
            "system": self.system,
            "expression": self.schedule.expression,
            "description": self.schedule.description,
            "timer": delay is not None,
            "every_seconds": seconds if delay is not None else None,
            "pace": self.pace(),
        }


def parse_every(values: list[str] | None) -> dict[str, float]:
    """`--every NAME=SECONDS` options -> {NAME: seconds} (0: never on a timer)."""
    found: dict[str, float] = {}
    for value in values or []:
        name, sep, raw = value.partition("=")
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1.0
        if not sep or not name or seconds < 0:
            raise ValueError(f"--every takes NAME=SECONDS (0: on demand only), got {value!r}")
        found[name] = seconds
    return found
