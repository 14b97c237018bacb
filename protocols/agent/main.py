"""``printfleet-agent``: drives one LAN ESC/POS printer for printfleet over the device protocol.

The agent logs in to the MQTT broker as its device (paho-mqtt 2, persistent session, QoS 1), announces
itself with a retained birth message and a last will, and requests its jobs on every connect. Each job
is printed once: its id is written to the state file before the first byte goes to the printer, and
a result stays in the file until the server acknowledges it. When the broker has been unreachable for
``--fallback-after`` seconds and ``--server`` is given, the agent fetches jobs and sends results over
HTTP instead. One worker thread does all printing and state changes; paho callbacks only queue work.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import queue
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import requests
from paho.mqtt.enums import CallbackAPIVersion

from protocols.agent.printer import EscposPrinter, PrinterStatus, PrinterUnreachable, PrintInterrupted
from protocols.agent.state import FAILED, PRINTED, PRINTING, RECEIVED, RESULT_STATES, UNKNOWN, AgentState

log = logging.getLogger(__name__)

AGENT_VERSION = "printfleet-agent/0.1.0"
#: Command ids whose acknowledgement the agent keeps, to recognise a repeated delivery.
REMEMBERED_COMMANDS = 256
ROOT = "printfleet/v1/devices"
#: Seconds between full health reports even when nothing changed.
HEALTH_REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class AgentConfig:
    device_id: str
    password: str
    mqtt_url: str | None
    server_url: str | None
    printer_host: str
    printer_port: int
    state_file: Path
    status_interval: float = 5.0
    fallback_after: float = 15.0


class Agent:
    """One device session: MQTT client, printer, state file and the worker thread."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.printer = EscposPrinter(config.printer_host, config.printer_port)
        self.state = AgentState(config.state_file)
        self._work: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._disconnected_since = time.monotonic()
        self._last_status: PrinterStatus | None = None
        self._last_health_at = 0.0
        #: Acknowledgements of the last commands run, by command id. QoS 1 may deliver a command again
        #: (after a reconnect, say); a repeat is acknowledged again and not run twice.
        self._command_acks: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._broker_unreachable = False
        self._worker: threading.Thread | None = None
        self._client = self._make_client() if config.mqtt_url else None

    # -- lifecycle -------------------------------------------------------------------------------------

    def _topic(self, name: str) -> str:
        return f"{ROOT}/{self.config.device_id}/{name}"

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.config.device_id, clean_session=False,
                             protocol=mqtt.MQTTv311)
        client.username_pw_set(self.config.device_id, self.config.password)
        client.will_set(self._topic("state"), json.dumps({"v": 1, "online": False}), qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        self._recover()
        self._worker = threading.Thread(target=self._run, name=f"agent-{self.config.device_id}", daemon=True)
        self._worker.start()
        if self._client is not None and self.config.mqtt_url:
            parts = urlsplit(self.config.mqtt_url)
            host, port = parts.hostname or "127.0.0.1", parts.port or 1883
            log.info("agent connecting device=%s broker=%s:%s", self.config.device_id, host, port)
            self._client.connect_async(host, port, keepalive=30)
            self._client.loop_start()
        log.info("agent started device=%s printer=%s", self.config.device_id, self.printer)

    def stop(self) -> None:
        """Stop cleanly: a retained offline state replaces the birth message, then the session closes."""
        self._stopping.set()
        if self._client is not None:
            if self._connected.is_set():
                info = self._client.publish(self._topic("state"), json.dumps({"v": 1, "online": False}), qos=1,
                                            retain=True)
                try:
                    info.wait_for_publish(5)
                except (RuntimeError, ValueError):
                    log.debug("agent offline state not confirmed device=%s", self.config.device_id)
            self._client.disconnect()
            self._client.loop_stop()
        self._work.put(None)
        if self._worker is not None:
            self._worker.join(15)
        log.info("agent stopped device=%s", self.config.device_id)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _recover(self) -> None:
        """Report jobs that were being printed when the agent stopped as ``unknown``; never print them again."""
        for job_id, _entry in self.state.with_status(PRINTING):
            log.warning("job interrupted mid-print job=%s device=%s; reporting result unknown", job_id,
                        self.config.device_id)
            self.state.set(job_id, UNKNOWN, code="agent restarted while printing")

    # -- paho callbacks (network thread) ---------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason_code: Any, _properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("agent broker login rejected device=%s reason=%s; check PRINTFLEET_AGENT_PASSWORD, or issue "
                        "new credentials with 'printfleet printers device-credentials PRINTER_ID'",
                        self.config.device_id, reason_code)
            return
        for name in ("jobs/new", "jobs/ack", "commands/request", "settings/delta", "settings/desired"):
            client.subscribe(self._topic(name), qos=1)
        client.publish(self._topic("state"), json.dumps({"v": 1, "online": True, "agent": AGENT_VERSION}), qos=1,
                       retain=True)
        self._connected.set()
        self._broker_unreachable = False
        log.info("agent connected device=%s session_present=%s", self.config.device_id, flags.session_present)
        self._work.put(self._after_connect)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        # paho retries every 1 to 10 s; one WARNING per outage, the retries at DEBUG.
        level = logging.DEBUG if self._broker_unreachable else logging.WARNING
        self._broker_unreachable = True
        log.log(level, "agent cannot reach the broker device=%s broker=%s; retrying", self.config.device_id,
                self.config.mqtt_url)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any,
                       _properties: Any) -> None:
        if self._connected.is_set():
            self._disconnected_since = time.monotonic()
            log.warning("agent disconnected device=%s reason=%s; reconnecting", self.config.device_id, reason_code)
        self._connected.clear()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        name = message.topic.removeprefix(f"{ROOT}/{self.config.device_id}/")
        try:
            body = json.loads(message.payload)
        except ValueError:
            log.warning("agent message rejected device=%s topic=%s: not JSON", self.config.device_id, message.topic)
            return
        if not isinstance(body, dict) or body.get("v") != 1:
            log.warning("agent message rejected device=%s topic=%s: unknown version", self.config.device_id,
                        message.topic)
            return
        handler = {"jobs/new": self._on_job, "jobs/ack": self._on_ack, "commands/request": self._on_command,
                   "settings/delta": self._on_delta, "settings/desired": self._on_desired}.get(name)
        if handler is not None:
            self._work.put(lambda: handler(body))

    # -- worker ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                task = self._work.get(timeout=self.config.status_interval)
            except queue.Empty:
                task = self._tick
            if task is None:
                return
            try:
                task()
            except Exception:
                log.exception("agent task failed device=%s", self.config.device_id)

    def _after_connect(self) -> None:
        self._publish("jobs/pull", {})
        self._send_pending_results()
        self._report_health(force=True)
        self._publish("settings/reported", {"version": self.state.settings_version, "settings": self.state.settings})

    def _tick(self) -> None:
        self._report_health(force=False)
        self._retry_received()
        if self._use_http():
            self._http_round()

    def _publish(self, name: str, fields: dict[str, Any]) -> bool:
        if self._client is None or not self._connected.is_set():
            return False
        self._client.publish(self._topic(name), json.dumps({"v": 1, **fields}), qos=1)
        return True

    # -- health ----------------------------------------------------------------------------------------

    def _report_health(self, force: bool) -> PrinterStatus:
        status = self.printer.status()
        changed = status != self._last_status
        due = time.monotonic() - self._last_health_at > HEALTH_REFRESH_SECONDS
        if changed:
            log.info("printer status device=%s printer=%s online=%s conditions=%s", self.config.device_id,
                     self.printer, status.online, ",".join(sorted(status.conditions)) or "-")
        if changed or due or force:
            body = {"online": status.online, "conditions": sorted(status.conditions)}
            sent = self._publish("health", body) or self._http_post("/device/v1/health", body)
            if sent:
                self._last_status = status
                self._last_health_at = time.monotonic()
        return status

    # -- jobs ------------------------------------------------------------------------------------------

    def _on_job(self, body: dict[str, Any]) -> None:
        job_id = str(body.get("job_id", ""))
        if not job_id:
            return
        entry = self.state.get(job_id)
        if entry is not None:
            # Sent again (QoS 1 duplicate, re-send after a reconnect, HTTP fetch): never print twice.
            log.info("job already handled job=%s device=%s status=%s", job_id, self.config.device_id, entry["status"])
            if entry["status"] in RESULT_STATES:
                self._send_result(job_id, entry)
            return
        try:
            data = base64.b64decode(str(body.get("data", "")), validate=True)
        except ValueError:
            self.state.set(job_id, FAILED, code="job data is not base64")
            self._send_result(job_id, self.state.get(job_id) or {})
            return
        self.state.set(job_id, RECEIVED, data=base64.b64encode(data).decode("ascii"))
        log.info("job received job=%s device=%s bytes=%s", job_id, self.config.device_id, len(data))
        self._print(job_id, data)

    def _retry_received(self) -> None:
        for job_id, entry in self.state.with_status(RECEIVED):
            self._print(job_id, base64.b64decode(entry.get("data", "")))

    def _print(self, job_id: str, data: bytes) -> None:
        status = self._last_status or self.printer.status()
        if not status.can_print:
            log.info("job waiting for the printer job=%s device=%s conditions=%s", job_id, self.config.device_id,
                     ",".join(sorted(status.conditions)) or "-")
            return
        self.state.set(job_id, PRINTING)
        try:
            self.printer.print_bytes(data)
        except PrinterUnreachable as err:
            log.warning("job not sent, printer unreachable job=%s device=%s error=%s; will retry", job_id,
                        self.config.device_id, err)
            self.state.set(job_id, RECEIVED, data=base64.b64encode(data).decode("ascii"))
            return
        except PrintInterrupted as err:
            log.warning("job interrupted job=%s device=%s error=%s; reporting result unknown", job_id,
                        self.config.device_id, err)
            self.state.set(job_id, UNKNOWN, code="connection to the printer broke while printing")
        else:
            self.state.set(job_id, PRINTED, code="200 printed")
            log.info("job printed job=%s device=%s", job_id, self.config.device_id)
        self._send_result(job_id, self.state.get(job_id) or {})

    def _send_result(self, job_id: str, entry: dict[str, Any]) -> None:
        body = {"job_id": job_id, "status": entry.get("status", UNKNOWN), "code": entry.get("code")}
        if self._publish("jobs/result", body):
            return
        answer = self._http_post(f"/device/v1/jobs/{job_id}/result", body)
        if isinstance(answer, dict) and answer.get("state"):
            self._on_ack({"job_id": job_id, "state": answer["state"]})

    def _send_pending_results(self) -> None:
        for job_id, entry in self.state.with_status(*RESULT_STATES):
            self._send_result(job_id, entry)

    def _on_ack(self, body: dict[str, Any]) -> None:
        job_id = str(body.get("job_id", ""))
        entry = self.state.get(job_id)
        if entry is None or entry.get("status") not in RESULT_STATES:
            return
        self.state.forget(job_id)
        log.info("job result acknowledged job=%s device=%s state=%s", job_id, self.config.device_id, body.get("state"))

    # -- commands and settings -------------------------------------------------------------------------

    def _on_command(self, body: dict[str, Any]) -> None:
        command_id, name = str(body.get("command_id", "")), body.get("name")
        if command_id in self._command_acks:
            log.info("command repeated device=%s command=%s name=%s; acknowledged again, not run",
                     self.config.device_id, command_id, name)
            self._publish("commands/ack", self._command_acks[command_id])
            return
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        ok, detail = True, {}
        if name == "test_print":
            try:
                self.printer.print_bytes(_test_page(self.config.device_id))
            except (PrinterUnreachable, PrintInterrupted) as err:
                ok, detail = False, {"error": str(err)[:200]}
        elif name == "status":
            status = self._report_health(force=True)
            detail = {"online": status.online, "conditions": sorted(status.conditions)}
        elif name == "identify":
            try:
                self.printer.print_bytes(_identify_page(self.config.device_id))
            except (PrinterUnreachable, PrintInterrupted) as err:
                ok, detail = False, {"error": str(err)[:200]}
        elif name == "apply_settings":
            settings = params.get("settings") if isinstance(params.get("settings"), dict) else {}
            self._apply_settings({**self.state.settings, **settings}, self.state.settings_version)
        elif name != "reboot":
            ok, detail = False, {"error": f"unknown command {name!r}"}
        log.info("command done device=%s command=%s name=%s ok=%s", self.config.device_id, command_id, name, ok)
        ack = {"command_id": command_id, "ok": ok, "detail": detail}
        self._command_acks[command_id] = ack
        while len(self._command_acks) > REMEMBERED_COMMANDS:
            self._command_acks.popitem(last=False)
        self._publish("commands/ack", ack)
        if name == "reboot" and self._client is not None:
            # A software restart: drop the broker session and reconnect, which re-sends birth and pull.
            self._client.reconnect()

    def _on_delta(self, body: dict[str, Any]) -> None:
        delta = body.get("delta") if isinstance(body.get("delta"), dict) else {}
        self._apply_settings({**self.state.settings, **delta}, int(body.get("version", 0)))

    def _on_desired(self, body: dict[str, Any]) -> None:
        version = int(body.get("version", 0))
        if version > self.state.settings_version and isinstance(body.get("settings"), dict):
            self._apply_settings(dict(body["settings"]), version)

    def _apply_settings(self, settings: dict[str, Any], version: int) -> None:
        self.state.apply_settings(settings, max(version, self.state.settings_version))
        log.info("settings applied device=%s version=%s", self.config.device_id, self.state.settings_version)
        self._publish("settings/reported", {"version": self.state.settings_version, "settings": settings})

    # -- HTTP fallback ---------------------------------------------------------------------------------

    def _use_http(self) -> bool:
        if not self.config.server_url or self._connected.is_set():
            return False
        return time.monotonic() - self._disconnected_since >= self.config.fallback_after

    def _http_post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        if not self._use_http():
            return None
        try:
            response = requests.post(f"{self.config.server_url}{path}", json={"v": 1, **body},
                                     auth=(self.config.device_id, self.config.password), timeout=10)
        except requests.RequestException as err:
            log.warning("agent http request failed device=%s path=%s error=%s", self.config.device_id, path, err)
            return None
        if response.status_code != 200:
            log.warning("agent http request rejected device=%s path=%s status=%s", self.config.device_id, path,
                        response.status_code)
            return None
        return response.json()  # type: ignore[no-any-return]

    def _http_round(self) -> None:
        self._send_pending_results()
        try:
            response = requests.get(f"{self.config.server_url}/device/v1/jobs/next",
                                    auth=(self.config.device_id, self.config.password), timeout=10)
        except requests.RequestException as err:
            log.warning("agent http poll failed device=%s error=%s", self.config.device_id, err)
            return
        if response.status_code == 200:
            self._on_job(response.json())
        elif response.status_code != 204:
            log.warning("agent http poll rejected device=%s status=%s", self.config.device_id, response.status_code)


def _identify_page(device_id: str) -> bytes:
    """A short ticket in double size that tells staff which printer this agent drives."""
    text = f"printfleet\n{device_id}\n\n\n"
    return b"\x1b@\x1d!\x11" + text.encode("ascii", "replace") + b"\x1d!\x00\x1dV\x01"


def _test_page(device_id: str) -> bytes:
    text = f"printfleet test print\ndevice {device_id}\n{time.strftime('%Y-%m-%d %H:%M:%S')}\n\n\n"
    return b"\x1b@" + text.encode("ascii", "replace") + b"\x1dV\x01"


def _parse_args(argv: list[str] | None) -> AgentConfig:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="printfleet-agent", description=__doc__.splitlines()[0])
    parser.add_argument("--device-id", default=env("PRINTFLEET_AGENT_DEVICE_ID"), help="device id (MQTT username)")
    parser.add_argument("--password", default=env("PRINTFLEET_AGENT_PASSWORD"),
                        help="device password (prefer PRINTFLEET_AGENT_PASSWORD: arguments show in ps)")
    parser.add_argument("--mqtt", default=env("PRINTFLEET_AGENT_MQTT_URL"), help="broker URL, mqtt://HOST:PORT")
    parser.add_argument("--server", default=env("PRINTFLEET_AGENT_SERVER_URL"),
                        help="printfleet base URL for the HTTP fallback, e.g. https://print.example.com")
    parser.add_argument("--printer", default=env("PRINTFLEET_AGENT_PRINTER"), help="printer address HOST[:PORT], port 9100 by default")
    parser.add_argument("--state-file", default=env("PRINTFLEET_AGENT_STATE", "printfleet-agent-state.json"),
                        help="local state file of jobs printed but not yet acknowledged")
    parser.add_argument("--status-interval", type=float, default=5.0, help="seconds between printer status reads")
    parser.add_argument("--fallback-after", type=float, default=15.0,
                        help="seconds without the broker before switching to HTTP")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    args = parser.parse_args(argv)
    missing = [name for name in ("device_id", "password", "printer") if not getattr(args, name)]
    if missing:
        parser.error("missing " + ", ".join("--" + name.replace("_", "-") for name in missing))
    if not args.mqtt and not args.server:
        parser.error("give --mqtt, --server or both")
    problem = mqtt_url_problem(args.mqtt) if args.mqtt else None
    if problem:
        parser.error(problem)
    host, _, port = args.printer.rpartition(":") if ":" in args.printer else (args.printer, "", "9100")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        parser.error(f"--printer {args.printer!r} is not HOST[:PORT]; use e.g. 192.168.1.50:9100")
    _configure_logging(args.log_level)
    return AgentConfig(device_id=args.device_id, password=args.password, mqtt_url=args.mqtt,
                       server_url=args.server.rstrip("/") if args.server else None, printer_host=host,
                       printer_port=int(port), state_file=Path(args.state_file), status_interval=args.status_interval,
                       fallback_after=args.fallback_after)


def mqtt_url_problem(url: str) -> str | None:
    """Return why ``url`` cannot be the agent's broker URL, or None when it is a usable mqtt://HOST[:PORT]."""
    parts = urlsplit(url)
    if parts.scheme == "mqtts":
        return f"--mqtt {url!r}: TLS (mqtts://) is not supported yet; use mqtt://HOST:PORT"
    if parts.scheme != "mqtt" or not parts.hostname:
        return f"--mqtt {url!r} is not a broker URL; use mqtt://HOST:PORT, e.g. mqtt://print.example.com:1884"
    if parts.password or parts.username:
        return "put the device id and password in --device-id and PRINTFLEET_AGENT_PASSWORD, not in the MQTT URL"
    try:
        parts.port
    except ValueError:
        return f"--mqtt {url!r} has an invalid port; use a number from 1 to 65535"
    return None


class _QuietEscpos(logging.Filter):
    """Drop python-escpos's INFO lines on the root logger ("Network printer enabled" on every status read)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "root" and record.levelno < logging.WARNING and "escpos" in record.pathname)


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_QuietEscpos())


def main(argv: list[str] | None = None) -> None:
    """Run the agent until Ctrl-C or SIGTERM stops it."""
    agent = Agent(_parse_args(argv))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    agent.start()
    try:
        stop.wait()
        log.info("SIGTERM received; stopping")
    except KeyboardInterrupt:
        log.info("interrupted; stopping")
    finally:
        agent.stop()


if __name__ == "__main__":
    main()
