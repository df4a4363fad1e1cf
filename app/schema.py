"""Every table paystream keeps in PostgreSQL, registered on ``Base.metadata``: what Alembic
compares with the migrations, and tests with the migrated schema."""

from app.db import Base
from app.events.models import EventRow
from app.history.models import PaymentHistory, RefundHistory
from app.ledger.models import LedgerAccount, LedgerHead, LedgerPosting, LedgerTransaction
from app.merchants.models import Merchant
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

MODELS = (
    EventRow,
    PaymentHistory,
    RefundHistory,
    LedgerAccount,
    LedgerHead,
    LedgerPosting,
    LedgerTransaction,
    Merchant,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
metadata = Base.metadata
