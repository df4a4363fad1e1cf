"""A 405 names, in ``Allow``, every method its path takes, whichever route it matched first."""

import pytest
from starlette.testclient import TestClient


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/payments", "GET, HEAD, POST"),
        ("PUT", "/v1/payments/pay_x", "GET, HEAD"),
        ("GET", "/v1/payments/pay_x/refunds", "POST"),
        ("POST", "/healthz", "GET, HEAD"),
    ],
)
def test_a_405_lists_every_method_of_its_path(
    api: TestClient, method: str, path: str, allowed: str
) -> None:
    response = api.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["code"] == "method_not_allowed"
