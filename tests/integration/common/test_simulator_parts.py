"""simulators.common: the mode switch, the bounded log, signing and credential helpers."""

from __future__ import annotations

import base64
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from simulators.common.log import DEFAULT_LOG_LIMIT, BoundedLog
from simulators.common.modes import ModeState
from simulators.common.signing import basic_credentials, hmac_sha256_hex, same_text

MODES = ("ok", "fail", "error_5xx", "slow")
API_MODES = frozenset({"error_5xx", "slow"})


def test_mode_applies_only_to_requests_it_affects_and_counts_only_those() -> None:
    state = ModeState(MODES)
    state.set("fail", count=2)
    assert state.consume(API_MODES).mode == "ok"  # an API call neither acts on nor uses it
    assert state.snapshot()["count"] == 2
    assert [state.consume(MODES).mode for _ in range(3)] == ["fail", "fail", "ok"]
    assert state.snapshot() == {"mode": "ok", "count": None, "latency_ms": 0}


def test_mode_without_count_lasts_until_changed_or_reset() -> None:
    state = ModeState(MODES)
    state.set("error_5xx")
    assert {state.consume(API_MODES).mode for _ in range(50)} == {"error_5xx"}
    state.reset()
    assert state.consume(API_MODES).mode == "ok"


def test_latency_outlives_a_count_only_where_the_provider_says_so() -> None:
    monoova_like = ModeState(MODES)
    monoova_like.set("slow", count=1, latency_ms=250)
    first = monoova_like.consume(API_MODES)
    assert (first.mode, first.latency_ms) == ("slow", 250)
    assert monoova_like.latency_ms == 250  # documented Monoova behaviour

    counted = ModeState(MODES, latency_outlives_count=False)
    counted.set("slow", count=1, latency_ms=250)
    assert counted.consume(API_MODES).latency_ms == 250
    after = counted.consume(API_MODES)
    assert (after.mode, after.latency_ms) == ("ok", 0)


def test_slow_without_a_latency_takes_the_simulators_default() -> None:
    state = ModeState(MODES, slow_ms=2000)
    state.set("slow")
    assert state.snapshot()["latency_ms"] == 2000
    state.set("slow", latency_ms=300)
    assert state.snapshot()["latency_ms"] == 300
    state.set("fail")
    assert state.snapshot()["latency_ms"] == 0
    unset = ModeState(MODES)  # Monoova: no default, slow is as fast as asked
    unset.set("slow")
    assert unset.snapshot()["latency_ms"] == 0


def test_mode_options_have_defaults_and_are_validated() -> None:
    state = ModeState(MODES, options={"times": 5})
    assert state.consume(MODES).options == {"times": 5}
    state.set("fail", times=3)
    assert state.consume(MODES).options == {"times": 3}
    state.set("fail")
    assert state.snapshot()["times"] == 5  # a new set_mode starts from the defaults
    for bad in (0, -1, True, "3"):
        with pytest.raises(ValueError, match="times"):
            state.set("fail", times=bad)
    with pytest.raises(ValueError, match="unknown mode option"):
        state.set("fail", copies=2)
    with pytest.raises(ValueError, match="unknown mode"):
        state.set("explode")
    with pytest.raises(ValueError, match="default"):
        ModeState(("fail",))


def test_counted_mode_is_thread_safe() -> None:
    state = ModeState(MODES)
    state.set("fail", count=50)
    barrier = threading.Barrier(16)

    def take(_: int) -> list[str]:
        barrier.wait()
        return [state.consume(MODES).mode for _ in range(10)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        modes = [mode for batch in pool.map(take, range(16)) for mode in batch]
    assert Counter(modes) == {"fail": 50, "ok": 110}


def test_bounded_log_keeps_the_newest_entries_and_counts_the_rest() -> None:
    log = BoundedLog(limit=3)
    for index in range(5):
        log.append({"n": index, "nested": {"k": [index]}})
    assert [entry["n"] for entry in log.entries()] == [2, 3, 4]
    assert (len(log), log.limit, log.evicted) == (3, 3, 2)
    copy = log.entries()
    copy[0]["nested"]["k"].append("changed")
    assert log.entries()[0]["nested"] == {"k": [2]}
    log.clear()
    assert (log.entries(), log.evicted) == ([], 0)
    assert BoundedLog().limit == DEFAULT_LOG_LIMIT
    with pytest.raises(ValueError):
        BoundedLog(limit=0)


def test_bounded_log_memory_stays_flat_under_concurrent_appends() -> None:
    log = BoundedLog(limit=100)

    def write(worker: int) -> None:
        for index in range(500):
            log.append({"worker": worker, "n": index})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(8)))
    assert len(log) == 100
    assert log.evicted == 8 * 500 - 100


def test_hmac_sha256_hex_matches_rfc_4231() -> None:
    # RFC 4231 test case 2.
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert hmac_sha256_hex("Jefe", "what do ya want for nothing?") == expected
    assert hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?") == expected
    assert same_text(expected, expected)
    assert not same_text(expected, expected.upper())


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + base64.b64encode(b"key:secret").decode(), ("key", "secret")),
        ("basic " + base64.b64encode(b"key:").decode(), ("key", "")),
        ("Basic " + base64.b64encode(b"key:se:cret").decode(), ("key", "se:cret")),
        ("Basic " + base64.b64encode(b"no-colon").decode(), None),
        ("Basic not-base64!", None),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), None),
        ("Bearer abc", None),
        ("", None),
        (None, None),
    ],
)
def test_basic_credentials(header: str | None, expected: tuple[str, str] | None) -> None:
    assert basic_credentials(header) == expected
