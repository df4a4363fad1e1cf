"""Messages of ``async def`` actors, hundreds in flight in one worker process.

Dramatiq's worker runs each message on one of its threads, so a message waiting on a provider
holds a thread and in-flight work is capped by the thread count. Its AsyncIO middleware does not
change that: the thread waits for its coroutine. Provider calls are network waits, not CPU, so
the consumer hands messages of async actors here instead: one event loop on a thread of its own
runs each as a task, as many at once as the consumer's prefetch allows.

Dramatiq's middleware contract is kept: the same hooks, in the same order and with the same
meaning as ``dramatiq.worker.WorkerThread.process_message`` and the consumer thread's ack/nack.
The two middleware bound to a thread (they raise exceptions into it) are replaced by what the
loop can do: a message's time limit is an asyncio timeout that raises ``TimeLimitExceeded`` in
its task, and shutdown waits for messages in flight, up to a grace, then cancels the rest and
hands their entries back for another worker to take at once (their recovery points make a
cut-off message safe to run again from wherever it stopped).
"""

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, runtime_checkable

import redis.asyncio as aioredis
import uvloop
from dramatiq import Worker
from dramatiq.broker import Broker
from dramatiq.errors import ActorNotFound, RateLimitExceeded, Retry
from dramatiq.middleware import (
    Middleware,
    MiddlewareError,
    ShutdownNotifications,
    SkipMessage,
    TimeLimit,
)
from dramatiq.middleware.time_limit import TimeLimitExceeded

from actors.streams.delivery import (
    REASON_REJECTED,
    ScriptCall,
    StreamMessageProxy,
    ack_call,
    dead_letter_call,
)
from actors.streams.leases import Leases
from actors.streams.scripts import SOURCES
from app.queue.batch import BatchedScript, Batcher
from app.queue.connection import WORKER_BATCH_TIMEOUT_S, AsyncClient

logger = logging.getLogger(__name__)

#: Middleware that act on the thread running a message; the loop stands in for them.
THREAD_BOUND_MIDDLEWARE = (TimeLimit, ShutdownNotifications)
#: A middleware and one of its hook methods, bound.
Hook = tuple[Middleware, Callable[..., Any]]
#: A message's time limit when neither it, its actor nor a TimeLimit middleware names one:
#: Dramatiq's own default.
TIME_LIMIT_MS_DEFAULT = 600_000
#: How long a settlement waits before trying again while Redis cannot be reached; the entry
#: stays leased (and renewed) meanwhile, as Dramatiq's consumer thread does.
SETTLE_RETRY_DELAY_S = 1.0
#: How long starting the loop thread may take.
LOOP_START_TIMEOUT_S = 5.0


@runtime_checkable
class Drainable(Protocol):
    def drain_inflight(self) -> None: ...


class DrainInFlight(Middleware):
    """At worker shutdown, once Dramatiq has stopped its threads and consumers, the broker lets
    its async messages finish within the grace and hands the rest back."""

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        if isinstance(broker, Drainable):
            broker.drain_inflight()


def coroutine_function(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]] | None:
    """The ``async def`` inside an actor's function (Dramatiq wraps one for its worker threads),
    or None when the actor is not async."""
    unwrapped = inspect.unwrap(fn, stop=inspect.iscoroutinefunction)
    return unwrapped if inspect.iscoroutinefunction(unwrapped) else None


def is_async_actor(fn: Callable[..., Any]) -> bool:
    return coroutine_function(fn) is not None


class InFlight:
    """Runs the async messages of every queue of a process on one loop (what a worker builds
    for its messages, Redis and PostgreSQL clients, is bound to the loop that first uses it);
    ``submit`` is called from the consumer threads."""

    def __init__(
        self, broker: Broker, client: AsyncClient, leases: Callable[[str], Leases]
    ) -> None:
        self._broker = broker
        self._client = client
        self._leases = leases
        self._middleware = [
            middleware
            for middleware in broker.middleware
            if not isinstance(middleware, THREAD_BOUND_MIDDLEWARE)
        ]
        self._time_limit_ms = next(
            (m.time_limit for m in broker.middleware if isinstance(m, TimeLimit)),
            TIME_LIMIT_MS_DEFAULT,
        )
        self._hook_cache: dict[str, list[Hook]] = {}
        self._batcher = Batcher(client, timeout_s=WORKER_BATCH_TIMEOUT_S)
        self._ack: BatchedScript = self._batcher.script(SOURCES["ack"])
        self._dead_letter: BatchedScript = self._batcher.script(SOURCES["dead_letter"])
        # uvloop: asyncio's loop on libuv, ~20 % less CPU per provider call (measured).
        self._loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="inflight", daemon=True)
        self._running: dict[asyncio.Task[None], StreamMessageProxy] = {}
        self._takes: dict[str, bool] = {}
        self._started = threading.Event()

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(LOOP_START_TIMEOUT_S):
            raise RuntimeError("the in-flight event loop did not start")

    def takes(self, actor_name: str) -> bool:
        """Whether messages of ``actor_name`` run here (its actor is async)."""
        taken = self._takes.get(actor_name)
        if taken is None:
            try:
                taken = is_async_actor(self._broker.get_actor(actor_name).fn)
            except ActorNotFound:
                # Dramatiq's consumer thread dead-letters a message of an unknown actor.
                return False
            self._takes[actor_name] = taken
        return taken

    def submit(self, proxies: Iterable[StreamMessageProxy]) -> None:
        """Start running ``proxies``; safe to call from any thread."""
        batch = list(proxies)
        if batch:
            self._loop.call_soon_threadsafe(self._start_tasks, batch)

    def close(self, grace_s: float) -> list[StreamMessageProxy]:
        """Wait up to ``grace_s`` for the messages in flight, cancel the rest and stop the loop.

        Returns the messages cut off, for the caller to hand back; they were neither acked nor
        nacked, and no after-hook saw them but ``after_skip_message``."""
        drained = asyncio.run_coroutine_threadsafe(self._drain(grace_s), self._loop)
        try:
            cut_off = drained.result()
        except concurrent.futures.CancelledError:
            cut_off = []
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        return cut_off

    def count(self) -> int:
        return len(self._running)

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._started.set)
        self._loop.run_forever()

    def _start_tasks(self, batch: list[StreamMessageProxy]) -> None:
        for proxy in batch:
            task = self._loop.create_task(self._process(proxy))
            self._running[task] = proxy
            task.add_done_callback(self._running.pop)

    async def _drain(self, grace_s: float) -> list[StreamMessageProxy]:
        if not self._running:
            return []
        _, pending = await asyncio.wait(list(self._running), timeout=grace_s)
        cut_off = [self._running[task] for task in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._batcher.aclose()
        await self._client.aclose()
        return cut_off

    async def _process(self, proxy: StreamMessageProxy) -> None:
        try:
            await self._run_message(proxy)
        except asyncio.CancelledError:
            # Shutdown cut it off: no outcome to report; its entry is handed back.
            self._emit_after("skip_message", proxy)
            raise
        await self._settle(proxy)
        # As Dramatiq's worker does: a kept exception holds its frames, and memory, until a GC.
        proxy.clear_exception()

    async def _run_message(self, proxy: StreamMessageProxy) -> None:
        """``WorkerThread.process_message``, with the actor awaited on this loop."""
        actor = None
        try:
            self._emit_before("process_message", proxy)
            result = None
            if not proxy.failed:
                actor = self._broker.get_actor(proxy.actor_name)
                result = await self._call(actor.fn, actor.options, proxy)
            self._emit_after("process_message", proxy, result=result)
        except SkipMessage as error:
            if proxy.failed:
                proxy.stuff_exception(error)
            logger.warning("Message %s was skipped.", proxy)
            self._emit_after("skip_message", proxy)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            proxy.stuff_exception(error)
            self._log_failure(proxy, error, actor.options if actor else {})
            self._emit_after("process_message", proxy, exception=error)

    async def _call(
        self, fn: Callable[..., Any], options: dict[str, Any], proxy: StreamMessageProxy
    ) -> Any:
        run = coroutine_function(fn)
        if run is None:
            raise TypeError(f"Bug: {proxy.actor_name} is not async, yet runs in flight")
        limit_ms = proxy.options.get("time_limit") or options.get("time_limit", self._time_limit_ms)
        scope = asyncio.timeout(limit_ms / 1000)
        try:
            async with scope:
                return await run(*proxy.args, **proxy.kwargs)
        except TimeoutError:
            if scope.expired():
                raise TimeLimitExceeded() from None
            raise

    @staticmethod
    def _log_failure(
        proxy: StreamMessageProxy, error: BaseException, options: dict[str, Any]
    ) -> None:
        throws = proxy.options.get("throws") or options.get("throws")
        if isinstance(error, RateLimitExceeded):
            logger.debug("Rate limit exceeded in message %s: %s.", proxy, error)
        elif throws and isinstance(error, throws):
            logger.info(
                "Failed to process message %s with expected exception %s.",
                proxy,
                type(error).__name__,
            )
        elif not isinstance(error, Retry):
            logger.error(
                "Failed to process message %s with unhandled exception.", proxy, exc_info=error
            )

    async def _settle(self, proxy: StreamMessageProxy) -> None:
        """The consumer thread's ack or nack, with its hooks, retried while Redis is away."""
        entry = proxy.stream_entry
        if proxy.keep_pending:
            # Its retry could not be stored: releasing the lease leaves it to reclaim.
            self._leases(proxy.queue_name).release(entry)
            return
        signal = "nack" if proxy.failed else "ack"
        script, call = (
            (self._dead_letter, self._rejected(proxy))
            if proxy.failed
            else (self._ack, ack_call(entry))
        )
        self._emit_before(signal, proxy)
        await _until_done(script, call)
        self._leases(proxy.queue_name).release(entry)
        self._emit_after(signal, proxy)

    def _rejected(self, proxy: StreamMessageProxy) -> ScriptCall:
        # The processed message, not the stored one: its options carry retries and traceback.
        return dead_letter_call(
            proxy.queue_name, proxy.partition, proxy.stream_entry, proxy.encode(), REASON_REJECTED
        )

    def _emit_before(self, signal: str, *args: Any) -> None:
        """``Broker.emit_before`` over the middleware that run here."""
        _emit(self._broker, self._hooks("before_" + signal), args, {})

    def _emit_after(self, signal: str, *args: Any, **kwargs: Any) -> None:
        """``Broker.emit_after``: the same middleware, in reverse order."""
        _emit(self._broker, self._hooks("after_" + signal), args, kwargs)

    def _hooks(self, hook: str) -> list[Hook]:
        """The middleware's own ``hook`` methods in the order they run, found once: most
        middleware leave most hooks as Dramatiq's no-op, and a message passes four rounds."""
        found = self._hook_cache.get(hook)
        if found is None:
            ordered = reversed(self._middleware) if hook.startswith("after_") else self._middleware
            found = [
                (each, getattr(each, hook))
                for each in ordered
                if getattr(type(each), hook) is not getattr(Middleware, hook)
            ]
            self._hook_cache[hook] = found
        return found


def _emit(broker: Broker, hooks: list[Hook], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """As the broker emits: a MiddlewareError (SkipMessage) stops a before-hook round and reaches
    the caller; any other failure of a hook is logged and the next hook runs."""
    for each, hook in hooks:
        try:
            hook(broker, *args, **kwargs)
        except MiddlewareError:
            if hook.__name__.startswith("before_"):
                raise
            logger.critical("Unexpected failure in %s of %r.", hook.__name__, each, exc_info=True)
        except Exception:
            logger.critical("Unexpected failure in %s of %r.", hook.__name__, each, exc_info=True)


async def _until_done(script: BatchedScript, call: ScriptCall) -> None:
    keys, args = call
    while True:
        try:
            await script(keys, args)
            return
        except (aioredis.ConnectionError, aioredis.TimeoutError) as error:
            logger.warning("settling a message failed (%s); trying again", type(error).__name__)
            await asyncio.sleep(SETTLE_RETRY_DELAY_S)
