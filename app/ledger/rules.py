"""The money rules every recorded transaction obeys, checked by the writer and the verifier.

Each function answers a reason string, or None when the rule holds, so the writer can raise
and the verifier can report the same finding.
"""

from collections.abc import Iterable

from app.ledger.canonical import PostingFields, is_plain
from app.ledger.entry import DEBIT, DIRECTIONS
from app.ledger.limits import ACCOUNT_CODE_LENGTH_MAX, AMOUNT_MAX

CURRENCY_LENGTH = 3


def identifier_problem(name: str, value: str, length_max: int) -> str | None:
    if type(value) is not str or not value:
        return f"{name} must be a non-empty string"
    if len(value) > length_max:
        return f"{name} is longer than {length_max} characters"
    if not is_plain(value):
        return f"{name} must be printable ASCII without '\"' or '\\'"
    return None


def currency_problem(currency: str) -> str | None:
    valid = (
        type(currency) is str
        and len(currency) == CURRENCY_LENGTH
        and currency.isascii()
        and currency.isalpha()
        and currency.islower()
    )
    return None if valid else f"currency {currency!r} is not 3 lower-case letters"


def posting_problem(posting: PostingFields) -> str | None:
    account, direction, amount, currency = posting
    account_problem = identifier_problem("account", account, ACCOUNT_CODE_LENGTH_MAX)
    if account_problem is not None:
        return account_problem
    if direction not in DIRECTIONS:
        return f"direction {direction!r} is neither debit nor credit"
    # bool is an int subclass; True is not an amount.
    if type(amount) is not int or not 1 <= amount <= AMOUNT_MAX:
        return f"amount {amount!r} is not an integer within 1..{AMOUNT_MAX}"
    return currency_problem(currency)


def net_by_currency(postings: Iterable[PostingFields]) -> dict[str, int]:
    """Debits minus credits, per currency."""
    nets: dict[str, int] = {}
    for _, direction, amount, currency in postings:
        nets[currency] = nets.get(currency, 0) + (amount if direction == DEBIT else -amount)
    return nets


def unbalanced_currency(postings: Iterable[PostingFields]) -> tuple[str, int] | None:
    """The first currency whose debits and credits differ, with debits minus credits."""
    for currency, net in net_by_currency(postings).items():
        if net != 0:
            return currency, net
    return None
