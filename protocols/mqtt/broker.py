"""Embedded MQTT broker (amqtt 0.12) in its own event-loop thread, with device logins and a topic ACL.

amqtt rules this module follows:

* ``Broker`` is constructed inside the coroutine that runs on the broker's loop, because its
  constructor calls ``asyncio.get_running_loop()``.
* Listeners are always passed: amqtt's default listener binds ``0.0.0.0:1883``.
* Only our two plugins are loaded, so there is no anonymous login. That also keeps offline queueing:
  amqtt 0.12 queues QoS 1 messages for a disconnected persistent session only when the session is
  not anonymous.
* amqtt 0.12.1 replays retained messages at connect for every topic filter that any session on the
  broker has subscribed. It sends them to the connecting client even when that client did not
  subscribe, so each device would get every other device's retained state and desired settings. The
  work per connect grows with filters times retained messages: with one retained birth per device,
  1,000 devices took 137 s to connect instead of 8 s (``bench/mqtt_latency.py``, 2-CPU VM). amqtt also
  awaits inside that loop over the broker's filters, and a session that subscribes a new filter
  meanwhile ends the connect with "dictionary changed size during iteration". :class:`FleetBroker`
  sends retained messages only for the session's own subscriptions and never awaits in that loop.
* amqtt 0.12.1 deletes, updates or takes over the session of a client id before it checks the login,
  so a CONNECT with a device's id and a wrong password disconnected the real device. FleetBroker
  reads the CONNECT itself, checks the login first and rejects a wrong one with CONNACK 0x05 without
  touching any session; amqtt then reads the same bytes again. It also rejects (CONNACK 0x02) a valid
  login that requests a client id whose session belongs to another login.

Plugins are instantiated by amqtt from dotted paths with a dataclass config, so they reach the
database through :data:`_DIRECTORIES`, a registry keyed by a name passed in their config.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker, RetainedApplicationMessage
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.connack import IDENTIFIER_REJECTED, NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.connect import ConnectPacket
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session as MqttSession

from fleet.errors import StartupError
from fleet.mqtt_devices import DeviceIdentity
from protocols.mqtt import topics

log = logging.getLogger(__name__)

#: Seconds to wait for the broker to bind and for it to shut down.
START_TIMEOUT = 15.0


class BrokerStartError(StartupError):
    """The embedded broker could not start. The message names the cause and the setting to change."""


LoginCheck = Callable[[str, str], DeviceIdentity | None]


@dataclass
class DeviceDirectory:
    """Logins the embedded broker accepts: one server login plus the devices' stored credentials."""

    check_device: LoginCheck
    server_username: str = "printfleet-server"
    server_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    #: Identities of connected sessions by username, filled at login, read by the ACL on every packet.
    sessions: dict[str, DeviceIdentity | None] = field(default_factory=dict)

    def login(self, username: str | None, password: str | None) -> bool:
        if not username or password is None:
            return False
        if username == self.server_username:
            allowed = secrets.compare_digest(password, self.server_password)
            if allowed:
                self.sessions[username] = None
            return allowed
        identity = self.check_device(username, password)
        if identity is None:
            return False
        self.sessions[username] = identity
        return True

    def allowed(self, username: str | None, topic: str, action: Action) -> bool:
        if username == self.server_username:
            return True
        identity = self.sessions.get(username or "")
        if identity is None:
            return False
        if action == Action.PUBLISH:
            return topics.device_may_publish(identity, topic)
        return topics.device_may_subscribe(identity, topic)


_DIRECTORIES: dict[str, DeviceDirectory] = {}


class DeviceAuthPlugin(BaseAuthPlugin):
    """Accept the server's login and device logins stored in the database; reject everything else."""

    @dataclass
    class Config:
        directory: str = ""

    async def authenticate(self, *, session: MqttSession) -> bool | None:
        directory = _DIRECTORIES.get(self.config.directory)
        if directory is None:
            return False
        username, password = session.username, session.password
        loop = asyncio.get_running_loop()
        # The database lookup blocks, so it runs on the default executor, not on the broker's loop.
        allowed = await loop.run_in_executor(None, directory.login, username, password)
        if not allowed:
            log.warning("mqtt login rejected username=%s client=%s", username, session.client_id)
        else:
            log.debug("mqtt login accepted username=%s client=%s", username, session.client_id)
        return allowed


class DeviceTopicPlugin(BaseTopicPlugin):
    """Let a device publish and subscribe only on its own topics; the server may use every topic."""

    @dataclass
    class Config:
        directory: str = ""

    async def topic_filtering(self, *, session: MqttSession | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool | None:
        directory = _DIRECTORIES.get(self.config.directory)
        if directory is None or session is None or topic is None or action is None:
            return False
        allowed = directory.allowed(session.username, topic, action)
        if not allowed and action != Action.RECEIVE:
            log.warning("mqtt topic rejected username=%s action=%s topic=%s", session.username, action.value, topic)
        return allowed


class _ReplayReader(ReaderAdapter):
    """Records what is read from ``reader``; after :meth:`replay`, hands those bytes out again first."""

    def __init__(self, reader: ReaderAdapter) -> None:
        self._reader = reader
        self._recorded = bytearray()
        self._pending = b""
        self._recording = True

    async def read(self, n: int = -1) -> bytes:
        if not self._pending:
            data = await self._reader.read(n)
            if self._recording:
                self._recorded += data
            return data
        if n < 0:
            data, self._pending = self._pending, b""
            return data + await self._reader.read(n)
        data, self._pending = self._pending[:n], self._pending[n:]
        if len(data) < n:
            data += await self._reader.read(n - len(data))
        return data

    def feed_eof(self) -> None:
        self._reader.feed_eof()

    def replay(self) -> _ReplayReader:
        self._recording = False
        self._pending, self._recorded = bytes(self._recorded), bytearray()
        return self


class FleetBroker(Broker):
    """amqtt's broker, checking logins before session handling and sending retained messages only to subscribers."""

    def __init__(self, config: dict[str, Any], directory: DeviceDirectory) -> None:
        super().__init__(config)
        self._directory = directory
        self._retained_sends: set[asyncio.Task[Any]] = set()

    async def _client_connected(self, listener_name: str, reader: ReaderAdapter, writer: WriterAdapter) -> None:
        recorder = _ReplayReader(reader)
        try:
            connect = await ConnectPacket.from_stream(recorder)
        except (AMQTTError, MQTTError, NoDataError, asyncio.IncompleteReadError, ValueError):
            # Not a readable CONNECT: amqtt reads the same bytes and rejects them in its own way.
            await super()._client_connected(listener_name, recorder.replay(), writer)
            return
        loop = asyncio.get_running_loop()
        allowed = await loop.run_in_executor(None, self._directory.login, connect.username, connect.password)
        if not allowed:
            log.warning("mqtt login rejected username=%s client=%s", connect.username, connect.client_id)
            await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
            await writer.close()
            return
        holder = self._sessions.get(connect.client_id or "")
        if holder is not None and holder[0].username not in (None, connect.username):
            # amqtt would hand this login the other device's session, and with it that device's messages.
            log.warning("mqtt client id rejected username=%s client=%s: the id belongs to another login",
                        connect.username, connect.client_id)
            await ConnackPacket.build(0, IDENTIFIER_REJECTED).to_stream(writer)
            await writer.close()
            return
        await super()._client_connected(listener_name, recorder.replay(), writer)

    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int],
                                                          session: MqttSession) -> None:
        topic_filter, qos = subscription
        subscribers = self._subscriptions.get(topic_filter, ())
        if not any(subscriber.client_id == session.client_id for subscriber, _qos in subscribers):
            return
        handler = self._get_handler(session)
        if handler is None:
            return
        matched: list[RetainedApplicationMessage]
        if "+" in topic_filter or "#" in topic_filter:
            matched = [message for topic, message in list(self._retained_messages.items())
                       if self._matches(topic, topic_filter)]
        else:
            exact = self._retained_messages.get(topic_filter)
            matched = [exact] if exact is not None else []
        # Sent as tasks, not awaited: the caller may be iterating the broker's subscriptions.
        for message in matched:
            send = asyncio.create_task(handler.mqtt_publish(message.topic, message.data,
                                                            min(qos, message.qos or qos), retain=True))
            self._retained_sends.add(send)
            send.add_done_callback(functools.partial(self._retained_sent, session.client_id, message.topic))

    def _retained_sent(self, client_id: str, topic: str, send: asyncio.Task[Any]) -> None:
        self._retained_sends.discard(send)
        if not send.cancelled() and send.exception() is not None:
            log.warning("mqtt retained message not sent client=%s topic=%s error=%r", client_id, topic,
                        send.exception())


class EmbeddedBroker:
    """An amqtt broker listening on ``host:port``, run on a private event loop in a daemon thread."""

    def __init__(self, host: str, port: int, directory: DeviceDirectory) -> None:
        self.host = host
        self.port = port
        self.directory = directory
        self._key = secrets.token_hex(8)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: FleetBroker | None = None

    def _config(self) -> dict[str, Any]:
        plugin_config = {"directory": self._key}
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                f"{__name__}.DeviceAuthPlugin": plugin_config,
                f"{__name__}.DeviceTopicPlugin": plugin_config,
            },
        }

    def _check_port_free(self) -> None:
        probe = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((self.host, self.port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise BrokerStartError(
                    f"MQTT port {self.host}:{self.port} is already in use, probably by another broker. "
                    "Set PRINTFLEET_MQTT_PORT to a free port for the embedded broker, or set "
                    f"PRINTFLEET_MQTT_URL=mqtt://USER:PASSWORD@{self.host}:{self.port} to use the broker that is "
                    "running there with a login it accepts for printfleet (see docs/mqtt.md). The embedded broker "
                    "of another printfleet accepts only its own devices and cannot be shared."
                ) from None
            raise BrokerStartError(f"cannot listen for MQTT on {self.host}:{self.port}: {err.strerror}") from None
        finally:
            probe.close()

    def start(self) -> None:
        """Bind and serve; raise BrokerStartError naming the port and the fix when that fails."""
        self._check_port_free()
        # amqtt and its state machine library log every session transition at INFO.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger(name).level))
        _DIRECTORIES[self._key] = self.directory
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=f"mqtt-broker-{self.port}", daemon=True)
        self._thread.start()

        async def boot() -> FleetBroker:
            broker = FleetBroker(self._config(), self.directory)
            await broker.start()
            return broker

        try:
            self._broker = asyncio.run_coroutine_threadsafe(boot(), loop).result(START_TIMEOUT)
        except Exception as err:
            self._stop_loop()
            _DIRECTORIES.pop(self._key, None)
            raise BrokerStartError(f"embedded MQTT broker failed to start on {self.host}:{self.port}: {err}") from err
        log.info("mqtt broker started host=%s port=%s", self.host, self.port)

    def stop(self) -> None:
        """Shut the broker down and end its thread; retained messages and sessions are dropped."""
        loop, broker = self._loop, self._broker
        if loop is None:
            return
        if broker is not None:
            try:
                asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(START_TIMEOUT)
            except Exception:
                log.exception("mqtt broker shutdown failed port=%s", self.port)
        self._broker = None
        self._stop_loop()
        _DIRECTORIES.pop(self._key, None)
        self.directory.sessions.clear()
        log.info("mqtt broker stopped host=%s port=%s", self.host, self.port)

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(START_TIMEOUT)
        if not loop.is_running():
            loop.close()
        self._loop = None
        self._thread = None
