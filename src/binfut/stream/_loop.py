"""One asyncio event loop on its own daemon thread: the runtime under every blocking stream facade.

Owns the thread and the loop's end. Rules kept here:

- the caller's thread only submits work (``run_coroutine_threadsafe``, ``call_soon_threadsafe``) and waits on
  the returned future with a real-time limit -- never ``run_until_complete`` on the caller's thread, so a
  facade works inside a running Jupyter loop too;
- :meth:`LoopThread.stop` runs the facade's orderly close (if given), ends the loop, cancels what is still
  pending, shuts the default executor (aiohttp's resolver threads) and joins the thread, all within its
  timeout: no task, session or thread outlives the facade.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")

_log = logging.getLogger("binfut.stream")


class LoopThread:
    """An event loop running forever on a daemon thread named ``name``.

    Parameters
    ----------
    name : str
        The thread's name (``binfut-streams``, ``binfut-book``, ``binfut-userstream``).
    owner : str
        The facade's class name, for "not started" errors.
    """

    def __init__(self, name: str, owner: str) -> None:
        self.name = name
        self.owner = owner
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None

    def start(self, timeout: float) -> None:
        """Start the thread; returns once its loop runs (idempotent)."""
        if self._thread is not None:
            return
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            ready.set()
            try:
                loop.run_forever()
                # Whatever is still pending (a reader being cancelled) finishes on this thread, then the
                # loop closes.
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

        self._thread = threading.Thread(target=main, name=self.name, daemon=True)
        self._thread.start()
        ready.wait(timeout)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """Run ``coro`` on the loop and return its result, waiting up to ``timeout`` real seconds.

        Raises
        ------
        RuntimeError
            The loop is not running.
        TimeoutError
            No result in time (the coroutine is cancelled).
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            raise RuntimeError(f"{self.owner} is not started")
        if threading.current_thread() is self._thread:
            coro.close()  # waiting here would block the very loop that must run it
            raise RuntimeError(f"{self.owner}: a blocking call from its own loop thread")
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Schedule ``fn(*args)`` on the loop; False when the loop is gone."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # closed between the check and the call
            return False
        return True

    def stop(self, timeout: float, closing: Coroutine[Any, Any, object] | None = None) -> bool:
        """Run ``closing`` on the loop, then stop the loop and join the thread, within ``timeout`` seconds (idempotent).

        Parameters
        ----------
        timeout : float
            Real seconds for all of it; ``closing`` gets at most three quarters of them.
        closing : coroutine, optional
            The facade's orderly close (sessions, sockets). If it fails or runs out of time it is logged and
            the loop ends all the same; whatever it left pending is cancelled.

        Returns
        -------
        bool
            False when the thread was still alive at the deadline (it is a daemon; it ends with the process).
        """
        thread = self._thread
        if thread is None:
            if closing is not None:
                closing.close()
            return True
        deadline = time.monotonic() + timeout
        if closing is not None:
            try:
                self.call(closing, timeout * 0.75)
            except Exception as exc:  # a timeout or a failing close: the thread is ended all the same
                _log.warning("%s: closing failed: %r", self.owner, exc)
        loop = self._loop
        if loop is not None:
            self.call_soon(loop.stop)
        if thread is not threading.current_thread():  # stopped from a callback on the loop: no join
            thread.join(max(0.1, deadline - time.monotonic()))
        self._thread = None
        self._loop = None
        return not thread.is_alive()
