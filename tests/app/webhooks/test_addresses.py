"""The private-address guard: which addresses a webhook may go to."""

import pytest

from app.webhooks.addresses import UrlRefused, check_url, is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.251",
        "240.0.0.1",
        "100.64.0.1",
        "::1",
        "fe80::1%eth0",
        "fc00::1",
        "::ffff:127.0.0.1",
        "ff02::1",
    ],
)
def test_private_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_internet_addresses_are_public(address: str) -> None:
    assert is_public(address)


def test_http_only_with_private_urls_allowed() -> None:
    with pytest.raises(UrlRefused):
        check_url("http://example.com/hook", allow_private=False)
    assert check_url("http://example.com/hook", allow_private=True).hostname == "example.com"


def test_a_bad_port_is_refused() -> None:
    with pytest.raises(UrlRefused):
        check_url("https://example.com:99999/hook", allow_private=False)
