"""The payments engine's figures for `make bench` (under "engine" in bench-results.json).

- handler_import_ratio: each declared engine function's handler module (from
  engine.declarations, so new functions appear by themselves), cold import / `import boto3`
  as for payouts (Powertools included, and psycopg for the functions whose every invocation
  reads PostgreSQL). A module that does not import yet is reported as "missing: <error>", not
  a failure of the bench.
- handler_import_ratio_with_psycopg: the same with `engine.dal.pg.db` (psycopg) imported
  too, for the functions that read PostgreSQL on some routes only and load it when one first
  does: the cold start of such a route. (Where psycopg is loaded with the handler, the two
  figures are the same thing.)
- stream: the TransactionsSync handler on one batch of STREAM_BATCH stream records (distinct
  captured payments over 50 loans) into a real PostgreSQL (the one tests/postgres.py finds, or
  one it starts), as records/s, and as a ratio to a bare `executemany` INSERT of the same rows
  into the same table on the same server in the same run (medians of STREAM_RUNS each,
  alternating, after one warm-up of each); and the SQL round trips of one batch, counted from
  libpq's protocol trace.
- operations: AWS calls and SQL round trips per operation on a warm container (create
  payment, notification, webhook) against moto, PostgreSQL and the RazorPay simulator; an
  operation whose handler is not there yet says "not measured: ...".
- lms: the LMS poster (its real handler, stores and client) posting LMS_ITEMS queued receipts
  from their TransactionQueue stream records, in the mapping's batches, to the LMS simulator
  on moto: items/s, and items/s leaving out the time spent inside AWS calls (moto's, which
  grows with the tables: it deep-copies every table a TransactWriteItems touches); AWS calls
  per posted item on a warm container, by operation; the same for one sweep of
  LMS_SWEEP_ITEMS; and what a cold container adds (the secret).
"""

from __future__ import annotations

import statistics
from typing import Any

from scripts.bench_common import ROOT, handler_output, import_ratios, news, row

# The functions that read PostgreSQL on some routes only (validate-loan, a loan's summary, a
# create) and import psycopg when one first does; the others that read it import it with the
# handler. tests/unit/engine/test_cold_imports.py holds the handlers to this.
POSTGRES_SOME_ROUTES = ("PortalSessions", "PortalLoans", "PortalPayments")
POSTGRES_MODULE = "engine.dal.pg.db"
WITH_PSYCOPG = "+psycopg"
STREAM_BATCH = 1000
STREAM_RUNS = 5
LMS_ITEMS = 200
LMS_SWEEP_ITEMS = 50
TARGETS = {
    "handler_import_ratio": 1.5,
    "stream_throughput_ratio": 0.5,  # at least
    "aws_calls.create_payment": 2,
    "aws_calls.notification": 3,
    "aws_calls.webhook": 2,
    # A claim and the settle transaction per item, the breaker's read and record per batch.
    "lms_aws_calls_per_item": 3,
}


def handler_import_ratios() -> tuple[dict[str, float | str], dict[str, float | str]]:
    """(each handler's import ratio, and for POSTGRES_SOME_ROUTES its import with psycopg's),
    timed together against one `import boto3` baseline."""
    from engine.declarations import FUNCTIONS

    modules = {f.name: f.handler.rsplit(".", 1)[0] for f in FUNCTIONS}
    postgres = {
        f"{name} {WITH_PSYCOPG}": f"{modules[name]}, {POSTGRES_MODULE}"
        for name in POSTGRES_SOME_ROUTES
        if name in modules
    }
    found = import_ratios({**modules, **postgres}, {"PYTHONPATH": str(ROOT / "lambda_src")})
    alone = {name: found[name] for name in modules}
    with_psycopg = {key.split()[0]: found[key] for key in postgres}
    return alone, with_psycopg


def stream_throughput() -> dict[str, Any]:
    from tests import postgres
    from tests.bench_engine_scenarios import stream_scenario

    with stream_scenario() as scenario:
        scenario.consume(scenario.batch(STREAM_BATCH))  # warm: imports, connection
        scenario.executemany(scenario.batch(STREAM_BATCH))
        consumer, bare = [], []
        for _ in range(STREAM_RUNS):
            consumer.append(scenario.consume(scenario.batch(STREAM_BATCH)))
            bare.append(scenario.executemany(scenario.batch(STREAM_BATCH)))
        trips = scenario.round_trips(scenario.batch(STREAM_BATCH))
        small = scenario.round_trips(scenario.batch(1))
    consumer_s, bare_s = statistics.median(consumer), statistics.median(bare)
    return {
        "records": STREAM_BATCH,
        "records_per_second": round(STREAM_BATCH / consumer_s),
        "executemany_records_per_second": round(STREAM_BATCH / bare_s),
        "throughput_ratio": round(bare_s / consumer_s, 3),
        "sql_round_trips_per_batch": trips,
        "sql_round_trips_per_batch_of_1": small,
        "runs": STREAM_RUNS,
        "postgres": postgres.server().source,  # DATABASE_URL, local, or started
    }


def operations() -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Per operation: AWS calls and SQL round trips on a warm container, or why not measured."""
    try:
        from tests.bench_engine_scenarios import portal_scenario
    except ImportError as missing:
        reason = f"not measured: harness missing ({missing})"
        return {name: {"not_measured": reason} for name in _OPERATIONS}, []
    with handler_output() as output, portal_scenario() as scenario:
        found = scenario.measure_all()
    return found, news(output)


_OPERATIONS = ("create_payment", "notification", "webhook")


def lms_posting() -> dict[str, Any]:
    """The poster's throughput and AWS calls per posted item (see the module docstring)."""
    from engine.declarations import EVENT_SOURCES, LMS_POSTER
    from tests.bench_engine_scenarios import lms_scenario

    [source] = [s for s in EVENT_SOURCES if s.function == LMS_POSTER.name]
    with lms_scenario() as scenario:
        meter = scenario.meter
        cold_records = scenario.queue(source.batch_size)
        meter.clear()
        scenario.post(cold_records, source.batch_size)  # a cold container: secret, token
        cold = dict(meter.calls)
        records = scenario.queue(LMS_ITEMS)
        meter.clear()
        seconds = scenario.post(records, source.batch_size)
        poster_calls, in_aws = dict(meter.calls), meter.seconds
        scenario.queue(LMS_SWEEP_ITEMS)
        meter.clear()
        sweep_seconds, answer = scenario.sweep()
        sweep_calls = dict(meter.calls)
    posted = sum(answer["counts"].get(k, 0) for k in ("posted", "posted_resolved"))
    assert posted == LMS_SWEEP_ITEMS, answer
    return {
        "items": LMS_ITEMS,
        "batch_size": source.batch_size,
        "items_per_second": round(LMS_ITEMS / seconds, 1),
        "items_per_second_outside_aws_calls": round(LMS_ITEMS / max(seconds - in_aws, 1e-9)),
        "seconds": round(seconds, 2),
        "seconds_in_aws_calls": round(in_aws, 2),
        "aws_calls_per_item": round(sum(poster_calls.values()) / LMS_ITEMS, 3),
        "aws_calls_detail": dict(sorted(poster_calls.items())),
        "cold_batch_aws_calls_detail": dict(sorted(cold.items())),
        "sweep": {
            "items": LMS_SWEEP_ITEMS,
            "items_per_second": round(LMS_SWEEP_ITEMS / sweep_seconds, 1),
            "aws_calls_per_item": round(sum(sweep_calls.values()) / LMS_SWEEP_ITEMS, 3),
            "aws_calls_detail": dict(sorted(sweep_calls.items())),
        },
    }


def run() -> dict[str, Any]:
    with handler_output() as output:
        imports, with_psycopg = handler_import_ratios()
        stream = stream_throughput()
    ops, ops_news = operations()
    with handler_output() as lms_output:
        lms = lms_posting()
    return {
        "handler_import_ratio": imports,
        "handler_import_ratio_with_psycopg": with_psycopg,
        "stream": stream,
        "operations": ops,
        "lms": lms,
        "targets": TARGETS,
        "handler_output": news(output) + ops_news + news(lms_output),
    }


def table(results: dict[str, Any]) -> list[str]:
    lines = [f"  {'engine':<44} {'value':>8}   target"]
    with_psycopg = results.get("handler_import_ratio_with_psycopg", {})
    for name, ratio in results["handler_import_ratio"].items():
        if isinstance(ratio, str):
            lines.append(row(f"import ratio {name}", "missing") + f"   ({ratio})")
        else:
            lines.append(row(f"import ratio {name}", ratio, TARGETS["handler_import_ratio"]))
        if isinstance(with_psycopg.get(name), float):
            label = "  + psycopg (its PostgreSQL routes)"
            lines.append(row(label, with_psycopg[name], TARGETS["handler_import_ratio"]))
    stream = results["stream"]
    lines.append(
        row(f"stream records/s ({stream['records']} per batch)", stream["records_per_second"])
    )
    lines.append(row("bare executemany records/s", stream["executemany_records_per_second"]))
    lines.append(
        row(
            "stream / executemany throughput",
            stream["throughput_ratio"],
            TARGETS["stream_throughput_ratio"],
            at_least=True,
        )
    )
    lines.append(row("stream SQL round trips per batch", stream["sql_round_trips_per_batch"]))
    for name, figures in results["operations"].items():
        if "not_measured" in figures:
            lines.append(row(f"aws calls {name} (warm)", "-") + f"   {figures['not_measured']}")
            continue
        lines.append(
            row(f"aws calls {name} (warm)", figures["aws_calls"], TARGETS[f"aws_calls.{name}"])
        )
        lines.append(row(f"sql round trips {name} (warm)", figures["sql_round_trips"]))
    lms = results.get("lms")
    if lms:
        lines.append(
            row(f"lms poster items/s ({lms['items']} queued, moto)", lms["items_per_second"])
        )
        lines.append(
            row("lms poster items/s outside AWS calls", lms["items_per_second_outside_aws_calls"])
        )
        target = TARGETS["lms_aws_calls_per_item"]
        lines.append(
            row("lms aws calls per posted item (poster)", lms["aws_calls_per_item"], target)
        )
        sweep = lms["sweep"]
        lines.append(
            row("lms aws calls per posted item (sweep)", sweep["aws_calls_per_item"], target)
        )
    return lines
