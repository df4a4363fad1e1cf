"""The simulator's Paystack face held to someone else's reading of Paystack's API: pypaystack2,
a maintained third-party client whose pydantic models of Paystack's answers must accept ours
(a model that does not validate leaves ``data`` None)."""

from typing import Any

import httpx
import pytest
from pypaystack2.enums import Currency
from pypaystack2.models.response_models import Refund, Transaction
from pypaystack2.sub_clients import RefundClient, TransactionClient

from tests.app.simulator.conftest import API_KEY

AMOUNT = 500_000


@pytest.fixture
def transactions(sim: httpx.Client) -> TransactionClient:
    client = TransactionClient(secret_key=API_KEY)
    # The library's one base address is Paystack's; this is how it is pointed elsewhere.
    client._BASE_URL = str(sim.base_url).rstrip("/")
    return client


@pytest.fixture
def refunds(sim: httpx.Client) -> RefundClient:
    client = RefundClient(secret_key=API_KEY)
    client._BASE_URL = str(sim.base_url).rstrip("/")
    return client


def charge(client: TransactionClient, reference: str, auth_code: str = "AUTH_success") -> Any:
    return client.charge(
        amount=AMOUNT,
        email="ada@example.com",
        auth_code=auth_code,
        reference=reference,
        currency=Currency.NGN,
        metadata={"payment_id": reference.replace("-", "_")},
    )


def test_a_charge_and_its_verify_parse_as_paystack_transactions(
    transactions: TransactionClient,
) -> None:
    charged = charge(transactions, "pay-conf-a")
    verified = transactions.verify("pay-conf-a")

    for response in (charged, verified):
        assert response.status is True, response.raw
        assert isinstance(response.data, Transaction), response.raw
        assert (response.data.reference, response.data.status) == ("pay-conf-a", "success")
        assert (response.data.amount, response.data.currency) == (AMOUNT, Currency.NGN)


def test_a_declined_charge_is_a_failed_transaction(transactions: TransactionClient) -> None:
    response = charge(transactions, "pay-conf-b", "AUTH_declined")

    assert isinstance(response.data, Transaction), response.raw
    assert (response.data.status, response.data.gateway_response) == ("failed", "Declined")


def test_refusals_reach_the_client_as_paystack_failures(transactions: TransactionClient) -> None:
    charge(transactions, "pay-conf-c")

    duplicate = charge(transactions, "pay-conf-c")
    underscore = charge(transactions, "pay_conf_d")
    unknown = transactions.verify("pay-conf-never")

    for response in (duplicate, underscore, unknown):
        assert (response.status_code, response.status, response.data) == (400, False, None)
    assert duplicate.message == "Duplicate Transaction Reference"


def test_a_refund_and_its_fetch_parse_as_paystack_refunds(
    transactions: TransactionClient, refunds: RefundClient
) -> None:
    charge(transactions, "pay-conf-e")

    created = refunds.create("pay-conf-e", amount=1000)
    assert isinstance(created.data, Refund), created.raw
    fetched = refunds.get_refund(str(created.data.id))

    assert isinstance(fetched.data, Refund), fetched.raw
    assert (fetched.data.amount, fetched.data.currency) == (1000, Currency.NGN)
    transaction = fetched.data.transaction
    assert isinstance(transaction, Transaction) and transaction.reference == "pay-conf-e"
