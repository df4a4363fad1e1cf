"""``paystream payment show ID``: what an operator asks of one payment, from Redis."""

import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from app import cli
from app.settings import settings
from tests.app.conftest import Merchant
from tests.app.http.routes.test_payments import BODY, new_key, post


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> Iterator[None]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    settings.cache_clear()
    yield
    settings.cache_clear()


def test_show_prints_the_payment_with_its_recovery_point(
    configured: None, api: TestClient, merchant: Merchant, capsys: pytest.CaptureFixture[str]
) -> None:
    payment_id = post(api, merchant, BODY, new_key()).json()["id"]

    status = cli.main(["payment", "show", payment_id])

    shown = json.loads(capsys.readouterr().out)
    assert status == 0
    assert (shown["id"], shown["amount"], shown["status"]) == (payment_id, 2500, "pending")
    assert (shown["merchant_id"], shown["recovery_point"]) == (merchant.merchant_id, "accepted")
    assert "payment_method" not in shown


@pytest.mark.parametrize("payment_id", ["pay_00000000000000000000000000", "nonsense"])
def test_show_of_an_unknown_payment_exits_1(configured: None, payment_id: str) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["payment", "show", payment_id])

    assert exited.value.code == f"no payment {payment_id}"
