"""The Mosquitto configuration in docs/mqtt.md, run as written: logins and the per-device ACL.

A private Mosquitto on a free port reads the ``mosquitto.conf`` and ``printfleet.acl`` blocks of the
document (only the listener and the file paths are changed), with a password file made by
``mosquitto_passwd``. printfleet connects to it as ``printfleet-server``.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.protocols.mqtt.conftest import WAIT, MqttServer, start_server, stop_server
from tests.support.servers import free_port, wait_until

DOC = Path(__file__).resolve().parents[3] / "docs" / "mqtt.md"
SERVER_PASSWORD = "server-login-for-the-acl-test"

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None,
    reason="Mosquitto is not installed (Debian: apt-get install mosquitto); the documented ACL is not checked",
)


def _doc_block(title: str) -> str:
    """Return the fenced block that follows the line ``title`` in docs/mqtt.md."""
    match = re.search(rf"^{re.escape(title)}\n\n```\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S | re.M)
    assert match is not None, f"docs/mqtt.md has no code block after {title!r}"
    return match.group(1)


@dataclass(frozen=True)
class Broker:
    """printfleet on a private Mosquitto, with the broker's password file and process id."""

    server: MqttServer
    passwd: Path
    pid: int

    def add_device(self, name: str) -> tuple[int, str, str]:
        """Register a device-protocol printer, issue its login, add it to the password file and reload Mosquitto."""
        printer = self.server.register("device_mqtt", name=name)
        login = self.server.credentials(printer["id"])
        subprocess.run(["mosquitto_passwd", "-b", str(self.passwd), login.username, login.password], check=True,
                       capture_output=True)
        os.kill(self.pid, signal.SIGHUP)

        def accepted() -> bool:
            probe = self.server.device_client(login.username, login.password)
            code = probe.wait_connected()
            probe.close()
            return code == 0

        wait_until(accepted, WAIT)
        return printer["id"], login.username, login.password


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def acl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    folder = tmp_path_factory.mktemp("mosquitto-acl")
    port = free_port()
    server = start_server("external", folder, f"mqtt://printfleet-server:{SERVER_PASSWORD}@127.0.0.1:{port}",
                          wait_connected=False)
    passwd, acl = folder / "printfleet.passwd", folder / "printfleet.acl"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "printfleet-server", SERVER_PASSWORD], check=True,
                   capture_output=True)
    acl.write_text(_doc_block("`printfleet.acl`:"), encoding="utf-8")
    config = _doc_block("`mosquitto.conf`:")
    config = re.sub(r"^listener .*$", f"listener {port} 127.0.0.1", config, flags=re.M)
    config = config.replace("/etc/mosquitto/printfleet.passwd", str(passwd))
    config = config.replace("/etc/mosquitto/printfleet.acl", str(acl))
    config = config.replace("persistence true", f"persistence false\npersistence_location {folder}/")
    # Started as root, Mosquitto would switch to the user "mosquitto", who cannot read the test's folder.
    config += f"user {getpass.getuser()}\n"
    (folder / "mosquitto.conf").write_text(config, encoding="utf-8")
    broker = subprocess.Popen(["mosquitto", "-c", str(folder / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _listening(port) or broker.poll() is not None, WAIT)
        assert broker.poll() is None, f"mosquitto did not start: {broker.stderr.read().decode() if broker.stderr else ''}"
        assert server.mqtt.bridge.wait_connected(WAIT), "printfleet did not log in to Mosquitto as printfleet-server"
        yield Broker(server, passwd, broker.pid)
    finally:
        stop_server(server)
        broker.terminate()
        broker.wait(WAIT)


def test_documented_acl_keeps_devices_to_their_topics(acl_server: Broker) -> None:
    server = acl_server.server
    first_id, first_user, first_password = acl_server.add_device("ACL first")
    second_id, second_user, second_password = acl_server.add_device("ACL second")
    first_prefix, second_prefix = f"printfleet/v1/devices/{first_user}", f"printfleet/v1/devices/{second_user}"

    intruder = server.device_client(first_user, first_password, first_user)
    victim = server.device_client(second_user, second_password, second_user)
    assert intruder.wait_connected() == 0
    assert victim.wait_connected() == 0
    # Whatever SUBACK Mosquitto returns here, it must deliver only what the ACL lets the client read.
    intruder.subscribe(f"{second_prefix}/jobs/new")
    intruder.subscribe(f"{first_prefix}/jobs/new")
    victim.subscribe(f"{second_prefix}/jobs/new")

    before = server.printer(second_id)
    intruder.publish(f"{second_prefix}/health", {"v": 1, "online": True, "conditions": ["paper_out"]})
    intruder.publish(f"{first_prefix}/health", {"v": 1, "online": True, "conditions": ["paper_low"]})
    wait_until(lambda: server.printer(first_id).conditions == ["paper_low"], WAIT)
    assert server.mqtt.bridge.drain(WAIT)
    after = server.printer(second_id)
    assert after.online == before.online
    assert after.conditions == before.conditions

    server.mqtt.bridge.publish(f"{second_prefix}/jobs/new", {"v": 1, "marker": "second"})
    victim.wait_message(lambda _topic, body: body.get("marker") == "second")
    server.mqtt.bridge.publish(f"{first_prefix}/jobs/new", {"v": 1, "marker": "first"})
    intruder.wait_message(lambda _topic, body: body.get("marker") == "first")
    assert [topic for topic, _payload in intruder.messages] == [f"{first_prefix}/jobs/new"]


def test_documented_config_rejects_wrong_and_anonymous_logins(acl_server: Broker) -> None:
    server = acl_server.server
    _printer_id, username, _password = acl_server.add_device("ACL login")

    wrong = server.device_client(username, "not-the-password")
    anonymous = server.device_client(None, None)
    assert wrong.wait_connected() != 0
    assert anonymous.wait_connected() != 0
