"""The server's own MQTT client (paho-mqtt 2, callback API version 2) and its work queue.

paho runs network I/O and every callback on one thread (``loop_start``), so callbacks only put work
on a queue; one worker thread runs it. Everything that touches the database for MQTT (incoming
messages, pushes caused by bus events) goes through that queue, so it runs in order and off the
network thread. A batch handler gets the consecutive queued messages of its topic filter in one
call (up to :data:`BATCH_LIMIT`), so it can store them in one transaction; whatever follows them in
the queue runs after the batch.

Connection rules (paho 2.2): ``connect_async`` + ``loop_start`` keeps retrying a broker that is down
and reconnects after a drop. Subscriptions are renewed in ``on_connect`` because a new session has
none. QoS 1 publishes made while disconnected are kept by paho and sent after the reconnect.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]
BatchHandler = Callable[[list[tuple[str, bytes]]], None]
_STOP = object()
#: Most messages handed to a batch handler in one call.
BATCH_LIMIT = 200


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> BrokerAddress:
        """Parse ``mqtt://[user:password@]host[:port]``; the port defaults to 1883."""
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"MQTT URL {url!r} has no host; use mqtt://[USER:PASSWORD@]HOST[:PORT]")
        return cls(parts.hostname, parts.port or 1883, unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)


class MqttBridge:
    """Connects to the broker, keeps ``subscriptions`` alive, publishes at QoS 1 and runs queued work in order."""

    def __init__(self, address: BrokerAddress, client_id: str) -> None:
        self.address = address
        self.client_id = client_id
        self._handlers: list[tuple[str, int, Handler | None, BatchHandler | None]] = []
        self._queue: queue.Queue[Any] = queue.Queue()
        #: An item the worker took off the queue while filling a batch; it runs next.
        self._carried: Any = None
        #: Messages whose handler has returned (or raised); benchmarks read it.
        self.handled = 0
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                                   protocol=mqtt.MQTTv311)
        if address.username:
            self._client.username_pw_set(address.username, address.password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    # -- set-up ----------------------------------------------------------------------------------------

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        """Route messages matching ``topic_filter`` to ``handler`` (on the worker thread); call before start()."""
        self._handlers.append((topic_filter, qos, handler, None))

    def subscribe_batch(self, topic_filter: str, handler: BatchHandler, qos: int = 1) -> None:
        """Route runs of queued messages matching ``topic_filter`` to ``handler`` as one list; call before start().

        With ``qos=0`` the broker sends without waiting for acknowledgements. A QoS 1 subscription has
        only a few messages in flight (Mosquitto: ``max_inflight_messages``, 20) and the broker drops
        what exceeds its queue (``max_queued_messages``, 1000) while the server is busy.
        """
        self._handlers.append((topic_filter, qos, None, handler))

    def start(self) -> None:
        self._worker = threading.Thread(target=self._work, name=f"mqtt-worker-{self.client_id}", daemon=True)
        self._worker.start()
        self._client.connect_async(self.address.host, self.address.port, keepalive=30)
        self._client.loop_start()
        log.info("mqtt bridge connecting host=%s port=%s client=%s", self.address.host, self.address.port,
                 self.client_id)

    def stop(self) -> None:
        self._stopping.set()
        self._client.disconnect()
        self._client.loop_stop()
        self._queue.put(_STOP)
        if self._worker is not None:
            self._worker.join(10)
        log.info("mqtt bridge stopped client=%s", self.client_id)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # -- work ------------------------------------------------------------------------------------------

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task`` on the worker thread, after the work already queued."""
        self._queue.put(task)

    def drain(self, timeout: float) -> bool:
        """Wait until the work queued so far has run; return False on timeout (tests and benchmarks)."""
        done = threading.Event()
        self._queue.put(done.set)
        return done.wait(timeout)

    def publish(self, topic: str, payload: dict[str, Any] | bytes, retain: bool = False) -> None:
        """Publish at QoS 1; while disconnected paho keeps the message and sends it after reconnecting."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        info = self._client.publish(topic, body, qos=1, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            log.info("mqtt publish queued until reconnect topic=%s mid=%s", topic, info.mid)
        elif info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.warning("mqtt publish failed topic=%s rc=%s", topic, info.rc)
        else:
            log.debug("mqtt publish topic=%s mid=%s bytes=%s", topic, info.mid, len(body))

    def _work(self) -> None:
        while True:
            item = self._carried
            self._carried = None
            if item is None:
                item = self._queue.get()
            if item is _STOP:
                return
            try:
                if isinstance(item, mqtt.MQTTMessage):
                    self._dispatch(item)
                else:
                    item()
            except Exception:
                log.exception("mqtt work failed item=%r", getattr(item, "topic", item))

    def _dispatch(self, message: mqtt.MQTTMessage) -> None:
        """Run the handler of ``message``, or its batch handler on the run of messages it starts."""
        message_count = 1
        try:
            for topic_filter, _qos, handler, batch_handler in self._handlers:
                if not mqtt.topic_matches_sub(topic_filter, message.topic):
                    continue
                if batch_handler is not None:
                    batch = self._take_batch(topic_filter, message)
                    message_count = len(batch)
                    batch_handler(batch)
                elif handler is not None:
                    handler(message.topic, message.payload)
                return
        finally:
            self.handled += message_count

    def _take_batch(self, topic_filter: str, first: mqtt.MQTTMessage) -> list[tuple[str, bytes]]:
        """Return ``first`` and the messages right behind it in the queue that match ``topic_filter``."""
        batch = [(first.topic, first.payload)]
        while len(batch) < BATCH_LIMIT:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if not isinstance(item, mqtt.MQTTMessage) or not mqtt.topic_matches_sub(topic_filter, item.topic):
                self._carried = item
                break
            batch.append((item.topic, item.payload))
        return batch

    # -- paho callbacks (network thread: keep them short) ----------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("mqtt bridge connection refused host=%s port=%s reason=%s", self.address.host,
                        self.address.port, reason_code)
            return
        for topic_filter, qos, _handler, _batch_handler in self._handlers:
            client.subscribe(topic_filter, qos=qos)
        self._connected.set()
        log.info("mqtt bridge connected host=%s port=%s subscriptions=%s", self.address.host, self.address.port,
                 len(self._handlers))

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any,
                       _properties: Any) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if self._stopping.is_set():
            log.info("mqtt bridge disconnected host=%s port=%s", self.address.host, self.address.port)
        elif was:
            log.warning("mqtt bridge disconnected host=%s port=%s reason=%s; reconnecting", self.address.host,
                        self.address.port, reason_code)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._queue.put(message)
