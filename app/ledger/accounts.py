"""Account codes. Plain strings: the ledger knows no provider, only the names it is given.

An account holds one currency, so the currency is part of its code: a merchant paid in
both NGN and USD has one payable account for each.
"""


def merchant_payable_account(merchant_id: str, currency: str) -> str:
    """What paystream owes the merchant, in ``currency``."""
    return f"merchant:{merchant_id}:payable:{currency}"


def clearing_account(name: str, currency: str) -> str:
    """Money a provider holds for us until it settles, in ``currency``."""
    return f"provider:{name}:clearing:{currency}"
