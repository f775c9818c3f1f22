"""One attempt's time limit, in total: a receiver that drips a byte at a time cannot stretch it.

Socket timeouts limit each read, not the attempt: a server that sends one byte every few
seconds never trips them. `AttemptDeadline` shuts the attempt's socket down when its time
is up (a blocked read then returns at once), including a socket that only appears after
the deadline passed; `bounded` runs a whole attempt in a worker thread and stops waiting
for it shortly after its limit, whatever it is blocked in (a slow name lookup, say).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlsentinel.core.delivery import DeliveryOutcome
from sqlsentinel.notify.channels import SendResult

GRACE_S = 1.0  # how long `bounded` waits past the limit for an attempt to report itself
_POLL_S = 0.05


def timed_out(seconds: float) -> SendResult:
    """The result of an attempt that was still going when its time was up."""
    return SendResult(
        DeliveryOutcome.RETRYABLE, None, "timeout", f"no complete answer within {seconds:g} s"
    )


@dataclass
class AttemptDeadline:
    """Shuts the socket `watch` is given down `seconds` after `watch` began."""

    seconds: float
    expired: bool = False
    _done: threading.Event = field(default_factory=threading.Event)

    @contextlib.contextmanager
    def watch(self, current: Callable[[], socket.socket | None]) -> Iterator[None]:
        """Within the block, the socket `current()` returns is shut down at the deadline."""
        timer = threading.Timer(self.seconds, self._expire, (current,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            self._done.set()
            timer.cancel()

    def _expire(self, current: Callable[[], socket.socket | None]) -> None:
        self.expired = True
        while not self._done.is_set():
            sock = current()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                return
            self._done.wait(_POLL_S)  # not connected yet: shut it down once it is


def bounded(attempt: Callable[[], SendResult], seconds: float) -> SendResult:
    """`attempt()`, or a timeout when it has not ended `GRACE_S` after `seconds`; an attempt
    still blocked then is abandoned (its thread is a daemon and ends with the process)."""
    outcome: list[SendResult] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(attempt())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run, name="sqlsentinel-attempt", daemon=True)
    worker.start()
    worker.join(seconds + GRACE_S)
    if failure:
        raise failure[0]
    return outcome[0] if outcome else timed_out(seconds)
