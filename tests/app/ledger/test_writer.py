"""append(): every entry validated, one locked transaction per batch, exactly once per key."""

import re
import threading
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import Engine

import app.ledger.writer as writer
from app.ledger import (
    AccountCurrencyMismatch,
    BatchTooLarge,
    BusinessKeyConflict,
    ChainBroken,
    Entry,
    InvalidEntry,
    Posting,
    UnbalancedEntry,
    append,
    verify,
)
from app.ledger.limits import ENTRIES_PER_BATCH_MAX
from tests.app.ledger.support import capture, captures, head_seq, seqs, transaction_count

Connection = psycopg.Connection[Any]


def test_a_balanced_batch_is_recorded_in_order(engine: Engine, superuser: Connection) -> None:
    entries = captures("a", 3)
    recorded = append(engine, entries)
    assert [item.business_key for item in recorded] == [entry.business_key for entry in entries]
    assert [item.seq for item in recorded] == [1, 2, 3]
    assert all(item.created and item.transaction_id.startswith("ltx_") for item in recorded)
    assert len({item.transaction_id for item in recorded}) == 3
    assert seqs(superuser) == [1, 2, 3]
    assert head_seq(superuser) == 3
    assert verify(engine).ok


def test_transaction_ids_follow_the_seq(engine: Engine) -> None:
    """Seq-ordered ids keep the unique index on id cheap to insert into."""
    recorded = append(engine, captures("ids", 3)) + append(engine, captures("more_ids", 2))
    ids = [item.transaction_id for item in recorded]
    assert all(re.fullmatch(r"ltx_[0-9a-f]{24}", item) for item in ids)
    assert [int(item[4:16], 16) for item in ids] == [item.seq for item in recorded]
    assert ids == sorted(ids)


def test_postings_and_accounts_are_stored(engine: Engine, superuser: Connection) -> None:
    append(engine, [capture("pay_1", amount=2500, currency="eur", merchant="mer_z")])
    postings = superuser.execute(
        "SELECT index, account_code, direction, amount, currency FROM ledger_postings"
        " ORDER BY index"
    ).fetchall()
    assert postings == [
        (0, "provider:stripe:clearing:eur", "debit", 2500, "eur"),
        (1, "merchant:mer_z:payable:eur", "credit", 2500, "eur"),
    ]
    accounts = superuser.execute("SELECT code, currency FROM ledger_accounts ORDER BY code")
    assert accounts.fetchall() == [
        ("merchant:mer_z:payable:eur", "eur"),
        ("provider:stripe:clearing:eur", "eur"),
    ]


def test_an_empty_batch_records_nothing(engine: Engine, superuser: Connection) -> None:
    assert append(engine, []) == []
    assert head_seq(superuser) == 0


def test_an_unbalanced_entry_is_refused_and_nothing_is_written(
    engine: Engine, superuser: Connection
) -> None:
    good = capture("pay_good")
    unbalanced = replace(
        capture("pay_bad"),
        postings=(
            Posting("provider:stripe:clearing", "debit", 1000, "usd"),
            Posting("merchant:mer_a:payable", "credit", 999, "usd"),
        ),
    )
    with pytest.raises(UnbalancedEntry) as raised:
        append(engine, [good, unbalanced])
    assert (raised.value.business_key, raised.value.currency, raised.value.net) == (
        "pay_bad:payment_captured",
        "usd",
        1,
    )
    assert transaction_count(superuser) == 0
    assert head_seq(superuser) == 0


def test_balance_is_per_currency(engine: Engine, superuser: Connection) -> None:
    mixed = replace(
        capture("pay_mixed"),
        postings=(
            Posting("provider:stripe:clearing", "debit", 1000, "usd"),
            Posting("merchant:mer_a:payable", "credit", 1000, "eur"),
        ),
    )
    with pytest.raises(UnbalancedEntry):
        append(engine, [mixed])
    assert transaction_count(superuser) == 0


def posting(**change: Any) -> Posting:
    return replace(Posting("provider:stripe:clearing", "debit", 1000, "usd"), **change)


def entry_with(first: Posting) -> Entry:
    second = Posting("merchant:mer_a:payable", "credit", 1000, first.currency)
    return replace(capture("pay_x"), postings=(first, second))


INVALID_ENTRIES = {
    "zero amount": entry_with(posting(amount=0)),
    "negative amount": entry_with(posting(amount=-1000)),
    "amount over the maximum": entry_with(posting(amount=10**15 + 1)),
    "bool amount": entry_with(posting(amount=True)),
    "float amount": entry_with(posting(amount=1000.0)),
    "upper-case currency": entry_with(posting(currency="USD")),
    "short currency": entry_with(posting(currency="us")),
    "unknown direction": entry_with(posting(direction="sideways")),
    "empty account": entry_with(posting(account="")),
    "quote in account": entry_with(posting(account='a"b')),
    "long account": entry_with(posting(account="a" * 201)),
    "one posting": replace(capture("pay_x"), postings=(posting(),)),
    "postings as a list": replace(
        capture("pay_x"),
        postings=list(capture("pay_x").postings),  # type: ignore[arg-type]  # the point
    ),
    "unknown kind": replace(capture("pay_x"), kind="chargeback"),
    "empty reference": replace(capture("pay_x"), reference=""),
    "non-ASCII merchant": replace(capture("pay_x"), merchant_id="m\u00e9r"),
    "control character in key": replace(capture("pay_x"), business_key="pay\n1"),
    "long business key": replace(capture("pay_x"), business_key="k" * 256),
}


@pytest.mark.parametrize("entry", INVALID_ENTRIES.values(), ids=INVALID_ENTRIES.keys())
def test_an_invalid_entry_is_refused_and_nothing_is_written(
    engine: Engine, superuser: Connection, entry: Entry
) -> None:
    with pytest.raises(InvalidEntry):
        append(engine, [capture("pay_fine"), entry])
    assert transaction_count(superuser) == 0


def test_a_batch_over_the_limit_is_refused(engine: Engine) -> None:
    with pytest.raises(BatchTooLarge):
        append(engine, [capture("pay_1")] * (ENTRIES_PER_BATCH_MAX + 1))


def test_seq_is_contiguous_across_batches(engine: Engine, superuser: Connection) -> None:
    first = append(engine, captures("first", 4))
    second = append(engine, captures("second", 3))
    assert [item.seq for item in first + second] == list(range(1, 8))
    assert seqs(superuser) == list(range(1, 8))


def test_seq_stays_contiguous_after_an_aborted_append(
    engine: Engine, superuser: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(engine, captures("before", 2))

    def fail(*_: object) -> None:
        raise ChainBroken(3, "injected after the rows were written")

    with monkeypatch.context() as patch:
        patch.setattr(writer, "_check_read_back", fail)
        with pytest.raises(ChainBroken):
            append(engine, captures("aborted", 5))
    assert seqs(superuser) == [1, 2]
    after = append(engine, captures("after", 2))
    assert [item.seq for item in after] == [3, 4]
    assert verify(engine).ok


def test_an_account_keeps_its_currency(engine: Engine, superuser: Connection) -> None:
    append(engine, [capture("pay_usd", currency="usd")])
    usd_accounts = [posting.account for posting in capture("pay_x", currency="usd").postings]
    in_euros = Entry(
        business_key="pay_eur:payment_captured",
        kind="payment_captured",
        reference="pay_eur",
        merchant_id="mer_a",
        postings=(
            Posting(usd_accounts[0], "debit", 1000, "eur"),
            Posting(usd_accounts[1], "credit", 1000, "eur"),
        ),
    )
    with pytest.raises(AccountCurrencyMismatch) as raised:
        append(engine, [capture("pay_other", currency="usd"), in_euros])
    assert raised.value.account_currency == "usd"
    assert raised.value.posting_currency == "eur"
    assert seqs(superuser) == [1]
    assert [item.seq for item in append(engine, [capture("pay_next")])] == [2]


def test_a_held_head_lock_fails_the_append_after_the_timeout(
    engine: Engine, superuser: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "HEAD_LOCK_TIMEOUT_MS", 100)
    with superuser.transaction():
        superuser.execute("SELECT 1 FROM ledger_head FOR UPDATE")
        with pytest.raises(errors.LockNotAvailable):
            append(engine, [capture("pay_waiting")])
    assert [item.seq for item in append(engine, [capture("pay_waiting")])] == [1]


def test_a_key_twice_in_one_batch_is_recorded_once(engine: Engine, superuser: Connection) -> None:
    entry = capture("pay_twice")
    first, other, again = append(engine, [entry, capture("pay_other"), entry])
    assert first.created and other.created and not again.created
    assert (again.transaction_id, again.seq) == (first.transaction_id, first.seq)
    assert transaction_count(superuser) == 2


def test_a_key_already_recorded_is_answered_not_written(
    engine: Engine, superuser: Connection
) -> None:
    [first] = append(engine, [capture("pay_once")])
    [again] = append(engine, [capture("pay_once")])
    assert not again.created
    assert (again.transaction_id, again.seq) == (first.transaction_id, first.seq)
    assert transaction_count(superuser) == 1
    assert head_seq(superuser) == 1


def test_a_batch_mixing_old_and_new_keys_writes_only_the_new(
    engine: Engine, superuser: Connection
) -> None:
    [old] = append(engine, [capture("pay_old")])
    recorded = append(engine, [capture("pay_new_1"), capture("pay_old"), capture("pay_new_2")])
    assert [(item.seq, item.created) for item in recorded] == [(2, True), (1, False), (3, True)]
    assert recorded[1].transaction_id == old.transaction_id
    assert seqs(superuser) == [1, 2, 3]
    assert verify(engine).ok


def test_a_key_with_different_content_in_one_batch_conflicts(
    engine: Engine, superuser: Connection
) -> None:
    with pytest.raises(BusinessKeyConflict):
        append(engine, [capture("pay_1", amount=100), capture("pay_1", amount=200)])
    assert transaction_count(superuser) == 0


def test_a_recorded_key_with_different_content_conflicts(
    engine: Engine, superuser: Connection
) -> None:
    append(engine, [capture("pay_1", amount=100)])
    with pytest.raises(BusinessKeyConflict) as raised:
        append(engine, [capture("pay_2"), capture("pay_1", amount=200)])
    assert raised.value.business_key == "pay_1:payment_captured"
    assert seqs(superuser) == [1]


THREADS = 8
ENTRIES_PER_THREAD = 50
#: Each thread takes a window of keys overlapping its neighbours' by half.
KEY_STRIDE = ENTRIES_PER_THREAD // 2


def thread_entries(thread: int) -> list[Entry]:
    start = thread * KEY_STRIDE
    return [capture(f"pay_{index}", amount=100 + index) for index in range(start, start + 50)]


def test_concurrent_appenders_record_each_key_once(engine: Engine, superuser: Connection) -> None:
    barrier = threading.Barrier(THREADS)
    answers: dict[int, list[Any]] = {}
    failures: list[BaseException] = []

    def run(thread: int) -> None:
        entries = thread_entries(thread)
        barrier.wait()
        try:
            # Small batches, so appenders interleave and meet each other's keys.
            answers[thread] = [
                recorded
                for start in range(0, len(entries), 10)
                for recorded in append(engine, entries[start : start + 10])
            ]
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(thread,)) for thread in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    keys_total = (THREADS - 1) * KEY_STRIDE + ENTRIES_PER_THREAD
    assert seqs(superuser) == list(range(1, keys_total + 1))
    by_key: dict[str, tuple[str, int]] = {}
    for recorded in (item for answer in answers.values() for item in answer):
        seen = by_key.setdefault(recorded.business_key, (recorded.transaction_id, recorded.seq))
        assert seen == (recorded.transaction_id, recorded.seq)
    assert len(by_key) == keys_total
    created = [item for answer in answers.values() for item in answer if item.created]
    assert len(created) == keys_total
    report = verify(engine)
    assert report.ok and report.entries_checked == keys_total


ALTER_ON_INSERT = """
CREATE FUNCTION alter_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'ledger_transactions' THEN
        IF NEW.seq = 2 THEN
            NEW.reference := NEW.reference || 'x';
        END IF;
    ELSIF NEW.transaction_seq = 3 AND NEW.index = 1 THEN
        NEW.index := 5;
    END IF;
    RETURN NEW;
END
$$
"""


@pytest.mark.parametrize(
    ("table", "reason"),
    [("ledger_transactions", "transaction differs"), ("ledger_postings", "postings differ")],
)
def test_a_value_changed_on_the_way_in_fails_the_read_back(
    engine: Engine, superuser: Connection, table: str, reason: str
) -> None:
    superuser.execute(ALTER_ON_INSERT)
    superuser.execute(
        f"CREATE TRIGGER alter_on_insert BEFORE INSERT ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION alter_on_insert()"
    )
    with pytest.raises(ChainBroken, match=reason) as raised:
        append(engine, captures("altered", 4))
    assert raised.value.seq == (2 if table == "ledger_transactions" else 3)
    assert transaction_count(superuser) == 0


def test_a_created_at_changed_on_the_way_in_fails_the_read_back(
    engine: Engine, superuser: Connection
) -> None:
    # The read-back renders the batch's own created_at from the writer's text; one microsecond
    # off must still be told apart.
    superuser.execute("""
        CREATE FUNCTION shift_created_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.seq = 2 THEN
                NEW.created_at := NEW.created_at + interval '1 microsecond';
            END IF;
            RETURN NEW;
        END
        $$
    """)
    superuser.execute(
        "CREATE TRIGGER shift_created_at BEFORE INSERT ON ledger_transactions"
        " FOR EACH ROW EXECUTE FUNCTION shift_created_at()"
    )
    with pytest.raises(ChainBroken, match="transaction differs") as raised:
        append(engine, captures("shifted", 4))
    assert raised.value.seq == 2
    assert transaction_count(superuser) == 0
