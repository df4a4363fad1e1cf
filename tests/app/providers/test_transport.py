"""The Stripe SDK's lean HTTP client against real TCP and TLS servers on this host: keep-alive
reuse, the server's framing and closes, and which failures mean "never sent"."""

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import stripe

from app.providers.base import Outcome
from app.providers.outcome_rules import transport_failure
from app.providers.transport import LeanHTTPClient, NotSent, Pool, TransportError
from tests.support.processes import free_port

pytestmark = pytest.mark.anyio

TIMEOUT_S = 2.0
OK_BODY = b'{"id":"pi_1","object":"payment_intent"}'

#: What the server does with one request, by path: writes to the client and may close it.
Behaviour = Callable[[asyncio.StreamWriter, bytes], Awaitable[None]]


def answer(body: bytes, *extra_headers: str) -> bytes:
    head = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", "Request-Id: req_1", *extra_headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def ok(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.write(answer(OK_BODY))


async def echo(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.write(answer(body))


async def closing(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.write(answer(OK_BODY, "Connection: close"))
    await writer.drain()
    writer.close()


async def chunked(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for part in (OK_BODY[:10], OK_BODY[10:]):
        writer.write(b"%x\r\n%s\r\n" % (len(part), part))
    writer.write(b"0\r\n\r\n")


async def drop(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.close()


async def half(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.write(answer(OK_BODY)[:-5])
    await writer.drain()
    writer.close()


async def late(writer: asyncio.StreamWriter, body: bytes) -> None:
    """Answers after the client's time limit: a reply nobody may take for another call's."""
    await asyncio.sleep(TIMEOUT_S + 0.5)
    writer.write(answer(b'{"late":true}'))


BEHAVIOURS: dict[bytes, Behaviour] = {
    b"/ok": ok,
    b"/echo": echo,
    b"/close": closing,
    b"/chunked": chunked,
    b"/drop": drop,
    b"/half": half,
    b"/late": late,
}


class Server:
    """A real HTTP/1.1 server on a free port, counting the connections it accepts."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while not writer.is_closing():
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                path = head.split(b" ")[1]
                await BEHAVIOURS[path](writer, body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[Server, str]]:
    server = Server()
    port = free_port()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", port, ssl=tls)
    scheme = "https" if tls else "http"
    try:
        yield server, f"{scheme}://127.0.0.1:{port}"
    finally:
        listener.close()
        await listener.wait_closed()


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until ``condition`` holds (the test's own timeout bounds it)."""
    while not condition():
        await asyncio.sleep(0)


def client(**changes: object) -> LeanHTTPClient:
    options: dict[str, object] = {
        "timeout_s": TIMEOUT_S,
        "connections_max": 8,
        "connect_timeout_s": 1.0,
        "keepalive_s": 5.0,
    }
    options.update(changes)
    return LeanHTTPClient(**options)  # type: ignore[arg-type]


async def test_calls_reuse_one_kept_alive_connection() -> None:
    transport = client()
    async with serving() as (server, origin):
        for index in range(5):
            content, status, headers = await transport.request_async(
                "post", f"{origin}/echo", {"Idempotency-Key": f"k{index}"}, f"n={index}"
            )
            assert (status, content) == (200, f"n={index}".encode())
        await transport.close_async()

    assert server.connections == 1
    assert headers["request-id"] == headers["Request-Id"] == "req_1"
    assert "REQUEST-ID" in headers
    assert all(b"Idempotency-Key: k" in request for request in server.requests)


async def test_a_connection_the_server_closes_is_not_reused() -> None:
    transport = client()
    async with serving() as (server, origin):
        for _ in range(3):
            content, status, _ = await transport.request_async("get", f"{origin}/close", {})
            assert (status, content) == (200, OK_BODY)
        await transport.close_async()

    assert server.connections == 3


async def test_a_chunked_answer_is_read_whole() -> None:
    transport = client()
    async with serving() as (_, origin):
        content, status, _ = await transport.request_async("get", f"{origin}/chunked", {})
        await transport.close_async()

    assert (status, content) == (200, OK_BODY)


async def test_a_refused_connection_was_never_sent() -> None:
    transport = client()

    with pytest.raises(stripe.APIConnectionError) as raised:
        await transport.request_async("post", f"http://127.0.0.1:{free_port()}/ok", {}, "a=1")

    assert isinstance(raised.value.__cause__, NotSent)
    assert transport_failure(raised.value.__cause__).outcome is Outcome.RETRYABLE


@pytest.mark.parametrize("path", ["/drop", "/half"])
async def test_a_connection_lost_after_the_request_left_is_ambiguous(path: str) -> None:
    transport = client()
    async with serving() as (server, origin):
        with pytest.raises(stripe.APIConnectionError) as raised:
            await transport.request_async("post", f"{origin}{path}", {}, "a=1")
        await transport.close_async()

    cause = raised.value.__cause__
    assert isinstance(cause, TransportError) and not isinstance(cause, NotSent)
    assert transport_failure(cause).outcome is Outcome.UNKNOWN
    assert len(server.requests) == 1


async def test_a_late_answer_times_out_and_never_reaches_the_next_call() -> None:
    transport = client(connections_max=1)
    async with serving() as (server, origin):
        with pytest.raises(stripe.APIConnectionError) as raised:
            await transport.request_async("post", f"{origin}/late", {}, "a=1")
        content, status, _ = await transport.request_async("post", f"{origin}/echo", {}, "b=2")
        await transport.close_async()

    assert isinstance(raised.value.__cause__, TimeoutError)
    assert transport_failure(raised.value.__cause__).outcome is Outcome.UNKNOWN
    assert (status, content) == (200, b"b=2")
    assert server.connections == 2


async def test_a_call_that_gets_no_connection_in_time_was_never_sent() -> None:
    async with serving() as (server, origin):
        pool = Pool(
            origin, connections_max=1, connect_timeout_s=0.2, keepalive_s=5.0, ssl_context=None
        )
        held = asyncio.create_task(pool.request("POST", "/late", {}, b""))
        await until(lambda: len(server.requests) == 1)

        with pytest.raises(NotSent):
            await pool.request("POST", "/ok", {}, b"")
        held.cancel()
        await asyncio.gather(held, return_exceptions=True)
        await pool.aclose()


async def test_a_header_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    transport = client()
    async with serving() as (server, origin):
        with pytest.raises(ValueError, match="line break"):
            await transport.request_async("post", f"{origin}/ok", {"X-Evil": "a\r\nX-B: c"}, "")
        await transport.close_async()

    assert server.requests == []


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by the openssl command line."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is not installed (scripts/install installs it)")
    certificate, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate, key


async def test_calls_go_over_tls_to_a_server_the_context_trusts(tmp_path: Path) -> None:
    certificate, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certificate, key)
    trusting = ssl.create_default_context(cafile=str(certificate))

    async with serving(tls=server_context) as (server, origin):
        transport = client(ssl_context=trusting)
        content, status, _ = await transport.request_async("post", f"{origin}/echo", {}, "t=1")
        await transport.close_async()

        with pytest.raises(stripe.APIConnectionError) as raised:
            await client().request_async("post", f"{origin}/echo", {}, "t=1")

    assert (status, content) == (200, b"t=1")
    # An untrusted certificate fails the handshake: nothing was sent.
    assert isinstance(raised.value.__cause__, NotSent)
