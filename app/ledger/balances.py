"""Account balances, summed by the database: debits minus credits per account and currency.

The sign is the ledger's own: positive means net debited (an asset such as a provider's
clearing account holding our money), negative means net credited (a liability such as what we
owe a merchant).
"""

from typing import Any, Final

import psycopg
from sqlalchemy import Engine

from app.ledger.store import read_head, read_only_snapshot

#: account -> currency -> debits minus credits, in minor units
Balances = dict[str, dict[str, int]]

_NET = "sum(CASE p.direction WHEN 'debit' THEN p.amount ELSE -p.amount END)"
BALANCES_SQL: Final = f"""
    SELECT p.account_code, p.currency::text, {_NET}
      FROM ledger_postings AS p
     WHERE p.transaction_seq BETWEEN %(seq_min)s AND %(seq_max)s
     GROUP BY p.account_code, p.currency
     ORDER BY p.account_code, p.currency
"""
MERCHANT_BALANCES_SQL: Final = f"""
    SELECT p.account_code, p.currency::text, {_NET}
      FROM ledger_postings AS p
      JOIN ledger_transactions AS t ON t.seq = p.transaction_seq
     WHERE p.transaction_seq BETWEEN %(seq_min)s AND %(seq_max)s
       AND t.merchant_id = %(merchant_id)s
     GROUP BY p.account_code, p.currency
     ORDER BY p.account_code, p.currency
"""


def read_balances(
    connection: psycopg.Connection[Any],
    *,
    seq_min: int,
    seq_max: int,
    merchant_id: str | None = None,
) -> Balances:
    """Balances over the transactions seq_min..seq_max, optionally of one merchant's only."""
    bounds = {"seq_min": seq_min, "seq_max": seq_max, "merchant_id": merchant_id}
    sql = BALANCES_SQL if merchant_id is None else MERCHANT_BALANCES_SQL
    result: Balances = {}
    for account, currency, net in connection.execute(sql, bounds):
        result.setdefault(account, {})[currency] = int(net)
    return result


def balances(
    engine: Engine, *, merchant_id: str | None = None, as_of_seq: int | None = None
) -> Balances:
    """Balances as of ``as_of_seq`` (default: the head); with ``merchant_id``, only the postings
    of that merchant's transactions. Sealed transactions only: nothing past the head counts."""
    if as_of_seq is not None and as_of_seq < 0:
        raise ValueError(f"as_of_seq {as_of_seq} is below 0")
    with read_only_snapshot(engine) as connection:
        head = read_head(connection, for_update=False)
        if as_of_seq is not None and as_of_seq > head.seq:
            raise ValueError(f"as_of_seq {as_of_seq} lies beyond the head (seq {head.seq})")
        seq_max = head.seq if as_of_seq is None else as_of_seq
        return read_balances(connection, seq_min=1, seq_max=seq_max, merchant_id=merchant_id)
