"""A resumable watermark run, as the loan sync and the HRMS sync page through their provider:
start from the saved cursor (a run in progress) or the watermark, stop between pages when the
time left is short, drop a saved cursor the provider refuses once, and after the last page
report the watermark the store moved. How a page is read and applied, what a refusal or a
failure logs, and what else a run does between pages stay with each sync.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from shared import clock

if TYPE_CHECKING:
    from engine.dal.pg.sync_state import SyncState

__all__ = ["Outcome", "RunFlags", "WatermarkStore", "cursor_droppable", "drop_cursor", "run_pages"]

Page = TypeVar("Page")


class WatermarkStore(Protocol):
    def start(self, initial_watermark: datetime, now: datetime) -> SyncState: ...

    def restart(self, expected: SyncState) -> SyncState: ...


class Outcome(Protocol):
    @property
    def state(self) -> SyncState: ...

    @property
    def finished(self) -> bool: ...


class RunFlags(Protocol):
    """The fields of a run's report this loop keeps."""

    finished: bool
    out_of_time: bool
    restarted: bool
    resumed: bool
    watermark: str


def run_pages(
    store: WatermarkStore,
    report: RunFlags,
    *,
    initial_watermark: datetime,
    now: Callable[[], datetime],
    seconds_left: Callable[[], float],
    reserve_seconds: float,
    read: Callable[[SyncState], tuple[SyncState, Page | None]],
    apply: Callable[[SyncState, Page], Outcome],
) -> None:
    """Pages until the last one is applied or less than `reserve_seconds` is left. `read`
    answers the page at the state's cursor, or no page with the state again after dropping
    the cursor (the time left is then checked again); `apply` saves a page with its cursor."""
    state = store.start(initial_watermark, now())
    report.resumed = state.cursor is not None
    while True:
        report.watermark = clock.iso(state.watermark)
        if seconds_left() < reserve_seconds:
            report.out_of_time = True
            return
        state, page = read(state)
        if page is None:
            continue
        outcome = apply(state, page)
        state = outcome.state
        if outcome.finished:
            report.finished = True
            report.watermark = clock.iso(state.watermark)
            return


def cursor_droppable(state: SyncState, report: RunFlags) -> bool:
    """A refusal of a saved cursor (expired, unknown) is worked around once, by reading again
    from the watermark; a refusal without a cursor, or a second one, stands."""
    return state.cursor is not None and not report.restarted


def drop_cursor(store: WatermarkStore, state: SyncState, report: RunFlags) -> SyncState:
    state = store.restart(state)
    report.restarted = True
    return state
