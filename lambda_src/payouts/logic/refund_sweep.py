"""Crediting Rejected and Returned payouts the table stream missed.

Credits normally come from the table stream within seconds. Its failure DLQ holds only batch
metadata and the stream keeps records for 24 hours, so a credit lost there would be lost for
good. This sweep reads the refund work that is still due a few minutes after the payout
became final (the due-work index) and credits it through the same guarded unit of work the
stream consumer uses (`PayoutLedger.credit_back`): whichever comes first credits, the other
finds it done. It publishes how many it had to credit; anything above zero alarms.
"""

from __future__ import annotations

from dataclasses import dataclass

from payouts.dal.ledger import PayoutLedger
from payouts.logic import metrics as m
from payouts.models.status import Work
from shared import clock
from shared.store_errors import AlreadyApplied


@dataclass
class SweepReport:
    due: int = 0
    credited: int = 0
    already_credited: int = 0
    errors: int = 0


@dataclass
class RefundSweeper:
    ledger: PayoutLedger
    metrics: m.MetricSink
    batch_limit: int

    def run(self) -> SweepReport:
        report = SweepReport()
        transactions = self.ledger.transactions
        for payout in transactions.due(Work.REFUND, clock.iso(clock.now()), self.batch_limit):
            report.due += 1
            try:
                self.ledger.credit_back(payout, clock.iso(clock.now()))
            except AlreadyApplied:
                report.already_credited += 1
                transactions.close_work(payout["transaction_id"], Work.REFUND)
            except Exception:
                report.errors += 1
            else:
                report.credited += 1
                self.metrics.add_metric(m.BALANCE_RESTORED, "Count", 1)
        self.metrics.add_metric(m.REFUNDS_SWEPT, "Count", report.credited)
        return report
