"""The ledger's error tree. Every class carries the data that names what went wrong."""


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""


class InvalidEntry(LedgerError):
    """An entry breaks a rule (a field, a posting, a limit); nothing of its batch is written."""

    def __init__(self, business_key: str, reason: str) -> None:
        super().__init__(f"entry {business_key!r}: {reason}")
        self.business_key = business_key
        self.reason = reason


class UnbalancedEntry(InvalidEntry):
    """An entry's debits and credits differ in one currency."""

    def __init__(self, business_key: str, currency: str, net: int) -> None:
        super().__init__(business_key, f"debits minus credits in {currency} is {net}, not 0")
        self.currency = currency
        self.net = net


class BatchTooLarge(LedgerError):
    """More entries than one head lock may cover; the caller splits the batch."""

    def __init__(self, entries: int, entries_max: int) -> None:
        super().__init__(f"{entries} entries in one batch; at most {entries_max}")
        self.entries = entries
        self.entries_max = entries_max


class BusinessKeyConflict(LedgerError):
    """A business key arrived again with different content: a bug upstream, never a retry."""

    def __init__(self, business_key: str) -> None:
        super().__init__(f"business key {business_key!r} is already used by a different entry")
        self.business_key = business_key


class AccountCurrencyMismatch(LedgerError):
    """A posting names an account in a currency the account is not kept in."""

    def __init__(self, account: str, account_currency: str, posting_currency: str) -> None:
        super().__init__(
            f"account {account!r} is kept in {account_currency}, not {posting_currency}"
        )
        self.account = account
        self.account_currency = account_currency
        self.posting_currency = posting_currency


class CanonicalEncodingError(LedgerError):
    """A value cannot be encoded canonically (outside printable ASCII, wrong type, naive time)."""


class ChainBroken(LedgerError):
    """What the writer read back does not chain or balance; its transaction was rolled back."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"seq {seq}: {reason}")
        self.seq = seq
        self.reason = reason


class LedgerNotInitialised(LedgerError):
    """The ledger_head row is missing: the migrations have not run."""
