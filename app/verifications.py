"""The last ledger verification, kept in Redis for the console's ledger page.

``paystream ledger verify`` (run by a scheduler) and the console's own "verify now" store it
here; the ledger itself knows nothing of Redis."""

import json
import time
from dataclasses import asdict, dataclass

from app.ledger.verify import VerifyReport
from app.queue import keys
from app.queue.connection import SyncClient


@dataclass(frozen=True)
class Verification:
    ok: bool
    #: Unix seconds when it finished.
    at: int
    entries_checked: int
    head_seq: int
    first_bad_seq: int | None
    reason: str | None


def of_report(report: VerifyReport, at: int | None = None) -> Verification:
    return Verification(
        ok=report.ok,
        at=int(time.time()) if at is None else at,
        entries_checked=report.entries_checked,
        head_seq=report.head_seq,
        first_bad_seq=report.first_bad_seq,
        reason=report.reason,
    )


def store(client: SyncClient, verification: Verification) -> None:
    client.set(keys.LEDGER_VERIFICATION_KEY, json.dumps(asdict(verification)))


def decode(raw: bytes | str | None) -> Verification | None:
    return None if raw is None else Verification(**json.loads(raw))
