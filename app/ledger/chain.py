"""Following the hash chain: the checks the writer runs on its read-back and the verifier on
everything. One implementation, so both judge a transaction the same way."""

from dataclasses import dataclass

from app.ledger.canonical import ENCODING_VERSION, PostingFields, chain_hash, encode_v1
from app.ledger.errors import CanonicalEncodingError
from app.ledger.limits import POSTINGS_PER_ENTRY_MAX, POSTINGS_PER_ENTRY_MIN
from app.ledger.rules import posting_problem, unbalanced_currency
from app.ledger.store import HASH_FIELD, PostingRow, TransactionRow


@dataclass(frozen=True, slots=True)
class Break:
    """The first place the chain fails, and why."""

    seq: int
    reason: str


class ChainCheck:
    """Walks transactions in seq order from a trusted point: the next seq and its prev_hash."""

    def __init__(self, *, next_seq: int, prev_hash: bytes) -> None:
        self.next_seq = next_seq
        self.last_hash = prev_hash

    def check(
        self, seq: int, transaction: TransactionRow | None, postings: list[PostingRow]
    ) -> Break | None:
        if seq != self.next_seq:
            return Break(self.next_seq, f"seq {self.next_seq} is missing (next found: {seq})")
        if transaction is None:
            return Break(seq, "transaction is missing but its postings remain")
        problem = transaction_problem(transaction, postings, self.last_hash)
        if problem is not None:
            return Break(seq, problem)
        self.next_seq = seq + 1
        self.last_hash = transaction[HASH_FIELD]
        return None


def transaction_problem(
    transaction: TransactionRow, postings: list[PostingRow], prev_hash: bytes
) -> str | None:
    """Why one stored transaction breaks the chain or the money rules, or None."""
    seq, transaction_id, kind, business_key, reference, merchant_id, created_at = transaction[:7]
    encoding_version, stored_prev_hash, stored_hash = transaction[7:]
    if encoding_version != ENCODING_VERSION:
        return f"unknown encoding version {encoding_version}"
    if stored_prev_hash != prev_hash:
        return "prev_hash is not the hash of the previous transaction"
    fields: list[PostingFields] = [posting[2:] for posting in postings]
    try:
        canonical = encode_v1(
            seq=seq,
            transaction_id=transaction_id,
            kind=kind,
            business_key=business_key,
            reference=reference,
            merchant_id=merchant_id,
            created_at=created_at,
            postings=fields,
        )
    except CanonicalEncodingError as error:
        return f"cannot be encoded: {error}"
    if chain_hash(prev_hash, canonical) != stored_hash:
        return "hash does not match the recomputed hash"
    return _postings_shape_problem(postings) or _money_problem(fields)


def _postings_shape_problem(postings: list[PostingRow]) -> str | None:
    if not POSTINGS_PER_ENTRY_MIN <= len(postings) <= POSTINGS_PER_ENTRY_MAX:
        return (
            f"{len(postings)} postings; a transaction has "
            f"{POSTINGS_PER_ENTRY_MIN}..{POSTINGS_PER_ENTRY_MAX}"
        )
    for expected_index, posting in enumerate(postings):
        if posting[1] != expected_index:
            return f"posting index {expected_index} is missing"
    return None


def _money_problem(fields: list[PostingFields]) -> str | None:
    for posting in fields:
        problem = posting_problem(posting)
        if problem is not None:
            return problem
    unbalanced = unbalanced_currency(fields)
    if unbalanced is not None:
        currency, net = unbalanced
        return f"debits minus credits in {currency} is {net}, not 0"
    return None
