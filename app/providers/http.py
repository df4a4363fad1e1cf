"""How provider adapters talk HTTP: one pooled client per adapter and process, built on first
use inside the event loop that runs it (both clients bind to it).

Measured on this machine at 200 calls in flight against the simulator (client CPU per call):
httpx 0.29 / httpcore 1.0 spent 2,900 µs, most of it in its connection pool's bookkeeping,
which walks every connection, twice over, each time a request starts or ends; aiohttp spent
135 µs raw and 320 µs under the Stripe SDK. At hundreds of payments in flight that is the
difference between a worker that drains 170 payments a second and one that drains thousands.
Paystack's adapter runs on aiohttp; the Stripe SDK runs on ``app.providers.transport``, which
cut a PaymentIntent create from 513-637 to 284-335 µs of CPU (alternating runs).
"""

import ssl
from dataclasses import dataclass

import aiohttp

from app.providers.transport import LeanHTTPClient

#: Connecting is quick or hopeless: a short connect limit turns an unreachable provider into a
#: fast RETRYABLE instead of holding a payment for the whole read budget.
CONNECT_TIMEOUT_S_MAX = 5.0
#: Shorter than providers' idle timeouts, so we rarely reuse a connection the server has already
#: closed (the failure would surface as an ambiguous UNKNOWN and cost a lookup).
KEEPALIVE_S = 5.0


@dataclass(frozen=True)
class HttpOptions:
    #: The most one call may take, from asking for a connection to the last byte of its answer.
    timeout_s: float
    #: One connection per message in flight at most: a worker never queues for a socket, and
    #: never opens more than its concurrency allows.
    connections_max: int

    def timeout(self) -> aiohttp.ClientTimeout:
        connect_s = min(CONNECT_TIMEOUT_S_MAX, self.timeout_s)
        return aiohttp.ClientTimeout(total=self.timeout_s, connect=connect_s)

    def lean_client(self, ssl_context: ssl.SSLContext | None = None) -> LeanHTTPClient:
        """A new pool for the Stripe SDK; call it inside the event loop that will use it."""
        return LeanHTTPClient(
            timeout_s=self.timeout_s,
            connections_max=self.connections_max,
            connect_timeout_s=min(CONNECT_TIMEOUT_S_MAX, self.timeout_s),
            keepalive_s=KEEPALIVE_S,
            ssl_context=ssl_context,
        )

    def connector(self, ssl_context: ssl.SSLContext | None = None) -> aiohttp.TCPConnector:
        """A new pool; call it inside the event loop that will use it."""
        return aiohttp.TCPConnector(
            limit=self.connections_max,
            limit_per_host=0,
            keepalive_timeout=KEEPALIVE_S,
            ssl=ssl_context if ssl_context is not None else True,
        )
