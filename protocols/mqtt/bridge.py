"""The server's own MQTT client (paho-mqtt 2, callback API version 2) and its work queue.

paho runs network I/O and every callback on one thread (``loop_start``), so callbacks only put work
on a queue; one worker thread runs it. Everything that touches the database for MQTT (incoming
messages, pushes caused by bus events) goes through that queue, so it runs in order and off the
network thread.

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
_STOP = object()


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
        self._handlers: list[tuple[str, Handler]] = []
        self._queue: queue.Queue[Any] = queue.Queue()
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

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Route messages matching ``topic_filter`` to ``handler`` (on the worker thread); call before start()."""
        self._handlers.append((topic_filter, handler))

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
        for topic_filter, handler in self._handlers:
            if mqtt.topic_matches_sub(topic_filter, message.topic):
                handler(message.topic, message.payload)
                return

    # -- paho callbacks (network thread: keep them short) ----------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("mqtt bridge connection refused host=%s port=%s reason=%s", self.address.host,
                        self.address.port, reason_code)
            return
        for topic_filter, _handler in self._handlers:
            client.subscribe(topic_filter, qos=1)
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
