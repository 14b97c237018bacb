"""Shared machinery of the printer simulators: a background thread, a record of printed jobs and counters.

A simulator speaks its wire protocol for real against a running server. Tests and benchmarks never sleep
blindly: they call :meth:`SimulatedPrinter.wait_for` with a predicate over :attr:`printed`,
:attr:`failed` or :attr:`counters`, which wakes up whenever any of them changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

#: Timeout (s) of every HTTP request a simulator sends: (connect, read).
DEFAULT_REQUEST_TIMEOUT: tuple[float, float] = (5.0, 15.0)

#: A failure streak logs at WARNING on its first failure and then once every this many failures.
_WARNING_EVERY = 30


@dataclass(frozen=True)
class PrintedJob:
    """One job a simulated printer received, with its bytes and the text it printed."""

    #: Job token (CloudPRNT), printjobid (Epson) or order id (Goodcom); None when the protocol has none.
    job_id: str | None
    #: MIME type the job arrived as, or a descriptive type such as ``application/vnd.epson.epos-print+xml``.
    media_type: str
    #: Raw bytes as received on the wire.
    data: bytes
    #: Decoded text content; empty for images.
    text: str
    #: time.time() when the printer finished receiving the job.
    received_at: float = field(default_factory=time.time)
    #: Protocol-specific facts, e.g. image size, response headers or a result code.
    details: dict[str, Any] = field(default_factory=dict)


class SimulatedPrinter:
    """Base of every simulator: owns the thread, the printed-job record and the counters.

    Subclasses implement :meth:`poll_once`, which runs one protocol exchange and returns True when the
    printer must poll again at once (for example after receiving CloudPRNT client actions). Polling
    subclasses use the default :meth:`_run` loop; a listening printer overrides it.
    """

    def __init__(self, printer_id: str, *, poll_interval: float = 2.0) -> None:
        self.printer_id = printer_id
        self.poll_interval = poll_interval
        #: Set by :meth:`stop`; every wait between polls returns as soon as it is set.
        self.stop_event = threading.Event()
        #: Notified whenever :attr:`printed`, :attr:`failed` or :attr:`counters` change.
        self.condition = threading.Condition()
        self._printed: list[PrintedJob] = []
        self._failed: list[PrintedJob] = []
        self._counters: Counter[str] = Counter()
        self._online = threading.Event()
        self._online.set()
        # Wakes the loop early: set by stop(), come_online() and poll_now().
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure_streak = 0

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background thread; raises RuntimeError when it is already running."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"Simulator printer={self.printer_id} is already running; call stop() first.")

        self.stop_event.clear()
        self._wake.clear()
        self._thread = threading.Thread(
            target=self._run_guarded, name=f"sim-{self.printer_id}", daemon=True
        )
        self._thread.start()
        logger.info("Simulator started printer=%s", self.printer_id)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and wait for it, at most `timeout` seconds.

        A request already on the wire finishes or times out first, so the thread may outlive the join.
        A thread still alive after `timeout` is logged at WARNING.
        """
        self.stop_event.set()
        self._wake.set()
        self._close()
        thread = self._thread
        if thread is None:
            return

        thread.join(timeout)
        if thread.is_alive():
            logger.warning("Simulator printer=%s did not stop within %.1f s", self.printer_id, timeout)
        else:
            logger.info("Simulator stopped printer=%s", self.printer_id)
        self._thread = None

    @property
    def running(self) -> bool:
        """True while the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def go_offline(self) -> None:
        """Stop talking to the server without stopping the thread, as a printer whose network drops."""
        self._online.clear()
        logger.info("Simulator offline printer=%s", self.printer_id)

    def come_online(self) -> None:
        """Resume talking to the server at once."""
        self._online.set()
        self._wake.set()
        logger.info("Simulator online printer=%s", self.printer_id)

    @property
    def online(self) -> bool:
        """False between go_offline() and come_online()."""
        return self._online.is_set()

    def poll_now(self) -> None:
        """Cut the current wait short so the next poll starts at once."""
        self._wake.set()

    # -- records -----------------------------------------------------------------------------------------

    @property
    def printed(self) -> list[PrintedJob]:
        """Copy of the jobs printed so far, oldest first."""
        with self.condition:
            return list(self._printed)

    @property
    def failed(self) -> list[PrintedJob]:
        """Copy of the jobs received but not printed (rejected media, simulated print failure)."""
        with self.condition:
            return list(self._failed)

    @property
    def counters(self) -> dict[str, int]:
        """Snapshot of the counters: polls, fetches, confirmations, errors and protocol-specific ones."""
        with self.condition:
            return dict(self._counters)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until `predicate()` is true or `timeout` seconds pass; return its last value.

        The predicate runs under :attr:`condition` each time a record or counter changes, so it may read
        :attr:`printed`, :attr:`failed` and :attr:`counters` (the lock is re-entrant).
        """
        with self.condition:
            return self.condition.wait_for(predicate, timeout)

    def _record_printed(self, job: PrintedJob) -> None:
        with self.condition:
            self._printed.append(job)
            self.condition.notify_all()

    def _record_failed(self, job: PrintedJob) -> None:
        with self.condition:
            self._failed.append(job)
            self.condition.notify_all()

    def _count(self, name: str, amount: int = 1) -> None:
        with self.condition:
            self._counters[name] += amount
            self.condition.notify_all()

    # -- loop --------------------------------------------------------------------------------------------

    def poll_once(self) -> bool:
        """Run one protocol exchange; return True to poll again without waiting."""
        raise NotImplementedError

    def _close(self) -> None:
        """Interrupt blocking I/O on stop(); runs in the thread that calls stop()."""

    def _cleanup(self) -> None:
        """Release resources when the loop ends; runs in the simulator thread."""

    def _run_guarded(self) -> None:
        try:
            self._run()
        except Exception:
            # The loop catches per-poll errors itself, so reaching here is a bug in the simulator.
            logger.exception("Simulator thread crashed printer=%s", self.printer_id)
            self._count("errors")
        finally:
            self._cleanup()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            if not self._online.is_set():
                self._pause(self.poll_interval)
                continue

            again = False
            try:
                again = self.poll_once()
            except Exception:
                logger.exception("Simulator poll failed unexpectedly printer=%s", self.printer_id)
                self._count("errors")
            if not again:
                self._pause(self.next_wait())

    def next_wait(self) -> float:
        """Seconds to wait before the next poll; subclasses shorten it for scheduled work."""
        return self.poll_interval

    def _pause(self, seconds: float) -> None:
        """Wait up to `seconds`, returning early on stop(), come_online() or poll_now()."""
        if seconds > 0:
            self._wake.wait(seconds)
        self._wake.clear()

    def sleep(self, seconds: float) -> bool:
        """Wait `seconds` unless stopped first; return False when stop() interrupted the wait."""
        return not self.stop_event.wait(seconds)

    # -- error reporting -----------------------------------------------------------------------------------

    def _report_failure(self, exchange: str, error: object) -> None:
        """Count a failed exchange with the server and log it without flooding the log."""
        self._count("errors")
        self._failure_streak += 1
        if self._failure_streak == 1 or self._failure_streak % _WARNING_EVERY == 0:
            logger.warning(
                "Simulator %s failed printer=%s error=%s failures_in_a_row=%d",
                exchange,
                self.printer_id,
                error,
                self._failure_streak,
            )
        else:
            logger.debug("Simulator %s failed printer=%s error=%s", exchange, self.printer_id, error)

    def _report_success(self) -> None:
        if self._failure_streak:
            logger.info(
                "Simulator reached the server again printer=%s after %d failures",
                self.printer_id,
                self._failure_streak,
            )
        self._failure_streak = 0
