"""In-process event bus. Services queue events on the session; they are published after commit.

Publishing after commit means a subscriber (Socket.IO broadcast, metrics, the outbox worker's wake-up)
never sees a state that a rollback later undid.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PENDING_KEY = "printfleet.pending_events"


@dataclass(frozen=True)
class Event:
    #: Dotted name, e.g. ``order.accepted``, ``job.fetched``, ``printer.health``.
    name: str
    account_id: int | None
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Event], None]


def matches(pattern: str, name: str) -> bool:
    """True when event ``name`` is ``pattern``, or belongs to the family a ``pattern`` ending in "." names.

    The pattern '' matches every event.
    """
    return name == pattern or pattern == "" or (pattern.endswith(".") and name.startswith(pattern))


class EventBus:
    """Synchronous publish/subscribe by event name or family. Handlers must be quick and must not raise."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: list[tuple[str, Handler]] = []

    def subscribe(self, pattern: str, handler: Handler) -> None:
        """Call ``handler`` for the events :func:`matches` accepts: ``job.queued``, ``printer.`` or '' (all).

        A plain name matches only itself, so ``mqtt.command`` does not receive ``mqtt.command_acked``.
        """
        with self._lock:
            self._handlers.append((pattern, handler))

    def publish(self, event: Event) -> None:
        with self._lock:
            handlers = [handler for pattern, handler in self._handlers if matches(pattern, event.name)]
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler failed event=%s handler=%r", event.name, handler)

    def attach(self, sessions: Any) -> None:
        """Publish the events queued on sessions of ``sessions`` (a sessionmaker) after each commit."""
        sa_event.listen(sessions, "after_commit", self._after_commit)
        sa_event.listen(sessions, "after_rollback", _discard)

    def _after_commit(self, session: Session) -> None:
        events = session.info.pop(PENDING_KEY, [])
        for item in events:
            self.publish(item)


def _discard(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def queue_event(session: Session, name: str, account_id: int | None, **data: Any) -> None:
    """Queue an event to be published when ``session`` commits."""
    session.info.setdefault(PENDING_KEY, []).append(Event(name, account_id, data))
