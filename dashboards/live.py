"""Live updates: EventBus events relayed through Flask-SocketIO to rooms the connect handler allows.

Rooms and their events: ``account:<id>`` gets ``fleet_event`` for every dashboard user of the
account. ``printer:<id>`` gets ``printer_event`` for a printer detail page. ``order:<public id>``
gets ``order_status`` for the customer's page, with only the fields of
:func:`dashboards.customer.customer_status`.

A dashboard socket is authenticated by the Flask session cookie sent with the handshake; a customer
socket by the order's public id in the ``auth`` payload. Each joins only its own rooms. Events are
relayed from a worker thread, so a commit never waits for the sockets; with
``PRINTFLEET_SOCKETIO_MESSAGE_QUEUE`` every process's emits reach the clients of all processes.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from typing import Any

from flask import request, session
from flask_socketio import ConnectionRefusedError, SocketIO, join_room
from sqlalchemy import select

from dashboards.customer import customer_status
from fleet.db import Database
from fleet.errors import NotFound
from fleet.events import Event
from fleet.models import Order
from fleet.orders import get_order_by_public_id
from fleet.printers import get_printer
from fleet.users import get_active_user

log = logging.getLogger(__name__)

#: Event name prefixes relayed to dashboards; others (outbox, MQTT internals) stay in the process.
RELAYED_PREFIXES = ("order.", "job.", "printer.", "settings.", "bulk.")
#: Internal events relayed under a dashboard name: an agent's settings report over the device
#: protocol is what clears the drift on the printer page.
RENAMED_EVENTS = {"mqtt.settings_reported": "settings.reported"}
#: Events waiting for the relay thread; beyond this they are dropped and logged.
MAX_BACKLOG = 10_000
_STOP = object()


def _plain(value: Any) -> Any:
    """Return ``value`` if it is JSON-plain data (ids, states, lists of them), else None."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return None


class LiveUpdates:
    """Relays bus events to Socket.IO rooms and authenticates socket connections."""

    def __init__(self, socketio: SocketIO, read_db: Database) -> None:
        self.socketio = socketio
        self.read_db = read_db
        self._sequence = itertools.count(1)
        self._accounts: dict[str, int] = {}
        self._queue: queue.Queue[Any] = queue.Queue(MAX_BACKLOG)
        self._thread: threading.Thread | None = None

    def register_handlers(self) -> None:
        self.socketio.on_event("connect", self.on_connect)
        self.socketio.on_event("disconnect", self.on_disconnect)
        self.socketio.on_event("watch_printer", self.on_watch_printer)

    def start(self) -> None:
        """Relay from a background thread from now on; until then events are relayed inline."""
        self._thread = threading.Thread(target=self._run, name="dashboard-live", daemon=True)
        self._thread.start()
        log.info("dashboard live relay started")

    def stop(self) -> None:
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(10)
        self._thread = None
        log.info("dashboard live relay stopped")

    def handle(self, event: Event) -> None:
        """Bus handler: queue ``event`` for the relay thread (or relay it now without one)."""
        if event.name in RENAMED_EVENTS:
            event = Event(RENAMED_EVENTS[event.name], event.account_id, {**event.data, "source": event.name})
        if not event.name.startswith(RELAYED_PREFIXES) or event.account_id is None:
            return
        if self._thread is None:
            self.relay(event)
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.warning("dashboard live backlog full; event dropped event=%s account=%s", event.name, event.account_id)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self.relay(item)
            except Exception:
                log.exception("dashboard live relay failed event=%s account=%s", item.name, item.account_id)

    def relay(self, event: Event) -> None:
        """Emit ``event`` to its account room, its printer room and, for orders, the customer's room."""
        payload = {"seq": next(self._sequence), "name": event.name,
                   **{key: _plain(value) for key, value in event.data.items()}}
        self.socketio.emit("fleet_event", payload, to=f"account:{event.account_id}")
        printer_id = event.data.get("printer_id")
        if isinstance(printer_id, int):
            self.socketio.emit("printer_event", payload, to=f"printer:{printer_id}")
        order_id = event.data.get("order_id")
        if event.name.startswith("order.") and isinstance(order_id, int):
            with self.read_db.session() as db_session:
                order = db_session.scalars(select(Order).where(Order.id == order_id)).first()
                if order is not None:
                    self.socketio.emit("order_status", customer_status(order), to=f"order:{order.public_id}")

    def on_connect(self, auth: Any = None) -> bool:
        """Join the customer's order room, or the logged-in user's account room; refuse anyone else."""
        if isinstance(auth, dict) and auth.get("order"):
            public_id = str(auth["order"])[:64]
            with self.read_db.session() as db_session:
                try:
                    get_order_by_public_id(db_session, public_id)
                except NotFound:
                    raise ConnectionRefusedError("order not found") from None
            join_room(f"order:{public_id}")
            return True

        user_id = session.get("user_id")
        if not isinstance(user_id, int):
            raise ConnectionRefusedError("log in to the dashboard first")
        with self.read_db.session() as db_session:
            user = get_active_user(db_session, user_id)
            if user is None:
                raise ConnectionRefusedError("log in to the dashboard first")
            account_id = user.account_id
        self._accounts[request.sid] = account_id  # type: ignore[attr-defined]
        join_room(f"account:{account_id}")
        log.debug("dashboard socket connected user=%s account=%s", user_id, account_id)
        return True

    def on_disconnect(self, reason: Any = None) -> None:
        self._accounts.pop(request.sid, None)  # type: ignore[attr-defined]

    def on_watch_printer(self, data: Any) -> dict[str, Any]:
        """Join ``printer:<id>`` when the printer belongs to the socket's account."""
        account_id = self._accounts.get(request.sid)  # type: ignore[attr-defined]
        printer_id = data.get("printer_id") if isinstance(data, dict) else None
        if account_id is None or not isinstance(printer_id, int):
            return {"ok": False, "error": "send {printer_id} from a logged-in dashboard"}
        with self.read_db.session() as db_session:
            try:
                get_printer(db_session, account_id, printer_id)
            except NotFound as err:
                return {"ok": False, "error": err.message}
        join_room(f"printer:{printer_id}")
        return {"ok": True}
