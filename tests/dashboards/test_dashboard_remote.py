"""Remote operation from the dashboards: test print, audit trail, settings through the settings twin
(preview, version conflict, drift until an agent confirms), bulk operations with live progress, and
the fleet label filters.

One server per database backend serves the module, with MQTT on so a printfleet agent can confirm
device-side settings. The browser tests share one Chromium and save screenshots as test artefacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from fleet.app import create_app, shutdown
from fleet.audit import Actor
from fleet.groups import create_group, set_group_members, set_labels
from fleet.models import Job, Printer
from fleet.mqtt_devices import issue_credentials
from fleet.mqtt_models import MqttDevice
from fleet.remote_models import AuditEntry
from fleet.server import ServerThread
from fleet.web import EXTENSION_KEY
from protocols.agent.main import Agent, AgentConfig
from protocols.simulators.cloudprnt import CloudPrntSimulator
from protocols.simulators.escpos_network import EscposNetworkPrinter
from tests.conftest import Running, register_printer
from tests.dashboards.conftest import ARTIFACTS, PASSWORD, Shop, csrf_token, login, new_shop, page_token
from tests.support.servers import free_port, wait_until

#: Generous waits in milliseconds for the browser, and in seconds for the server side, because
#: the 2-core test machine is shared.
LIVE_TIMEOUT_MS = 45_000
DEADLINE = 45.0

@pytest.fixture(scope="module")
def running(module_database_url: str) -> Iterator[Running]:
    """One server per module with the embedded MQTT broker, on SQLite and on PostgreSQL when configured."""
    http_port = free_port()
    app = create_app({"database_url": module_database_url, "env": "test", "default_poll_interval_seconds": 1,
                      "mqtt_enabled": True, "mqtt_host": "127.0.0.1", "mqtt_port": free_port(),
                      "base_url": f"http://127.0.0.1:{http_port}"})
    instance = Running(app, ServerThread(app, port=http_port).start(), app.extensions[EXTENSION_KEY])
    try:
        assert instance.services.extras["mqtt"].bridge.wait_connected(DEADLINE), "server did not connect to its broker"
        yield instance
    finally:
        instance.server.stop()
        shutdown(instance.app)


@pytest.fixture(scope="module")
def shop(running: Running) -> Shop:
    return new_shop(running, "Remote shop", "remote@example.com", role="support")


def test_printer_test_print_is_queued_and_audited(running: Running, shop: Shop) -> None:
    printer = register_printer(shop.api, running.url, name="Test print", protocol="cloudprnt", mac="00:11:62:20:00:01")
    client = login(running.url, shop.email)
    page = client.get(f"{running.url}/dashboard/printers/{printer['id']}", timeout=10).text
    assert "Test print</button>" in page
    assert 'data-setting="copies"' in page

    response = client.post(f"{running.url}/dashboard/printers/{printer['id']}/test-print",
                           data={"csrf_token": page_token(client, running.url)}, timeout=10)
    assert "Test print queued as job" in response.text
    with running.services.db.session() as session:
        jobs = session.query(Job).filter(Job.printer_id == printer["id"]).all()
        assert [(job.kind, job.state) for job in jobs] == [("test", "queued")]
    assert "test_print" in response.text
    assert f"user:{shop_user_id(running, shop)}" in response.text


def shop_user_id(running: Running, shop: Shop) -> int:
    from fleet.dashboard_models import DashboardUser

    with running.services.db.session() as session:
        return session.query(DashboardUser.id).filter(DashboardUser.email == shop.email).scalar()  # type: ignore[no-any-return]


def test_operator_cannot_queue_test_print(running: Running) -> None:
    operator = new_shop(running, "Operator remote", "op-remote@example.com", role="operator")
    printer = register_printer(operator.api, running.url, name="No test", protocol="cloudprnt", mac="00:11:62:20:00:02")
    client = login(running.url, operator.email)

    response = client.post(f"{running.url}/dashboard/printers/{printer['id']}/test-print",
                           data={"csrf_token": page_token(client, running.url)}, timeout=10)
    assert response.status_code == 403
    assert "Test print</button>" not in client.get(f"{running.url}/dashboard/printers/{printer['id']}", timeout=10).text


def test_fleet_filters_by_tag_group_and_site(running: Running, shop: Shop) -> None:
    labelled = register_printer(shop.api, running.url, name="Labelled", protocol="cloudprnt", mac="00:11:62:20:00:03")
    plain = register_printer(shop.api, running.url, name="Plain", protocol="cloudprnt", mac="00:11:62:20:00:04")
    actor = Actor.user(shop.account_id, 0)
    with running.services.db.session() as session:
        printer = session.get(Printer, labelled["id"])
        assert printer is not None
        set_labels(session, printer, actor, tags=["bar"], site="Paris")
        group = create_group(session, shop.account_id, "Front", "", actor)
        set_group_members(session, group, [labelled["id"]], actor)
        group_id = group.id
    client = login(running.url, shop.email)

    for params in ({"tag": "bar"}, {"group": str(group_id)}, {"site": "Paris"}):
        page = client.get(f"{running.url}/dashboard/", params=params, timeout=10).text
        assert f'data-printer-id="{labelled["id"]}"' in page
        assert f'data-printer-id="{plain["id"]}"' not in page
    everything = client.get(f"{running.url}/dashboard/", timeout=10).text
    assert f'data-printer-id="{plain["id"]}"' in everything
    assert '<option value="%d">Front</option>' % group_id in everything


def _settings_form(client: requests.Session, url: str) -> str:
    page = client.get(url, timeout=10)
    assert page.status_code == 200
    return page.text


def test_settings_form_applies_through_twin_as_user(running: Running, shop: Shop) -> None:
    printer = register_printer(shop.api, running.url, name="Twin form", protocol="cloudprnt", mac="00:11:62:20:00:11")
    client = login(running.url, shop.email)
    url = f"{running.url}/dashboard/printers/{printer['id']}/settings"
    token = csrf_token(_settings_form(client, url))

    preview = client.post(url, data={"csrf_token": token, "action": "preview", "version": "0", "copies": "3",
                                     "require_decision": "on"}, timeout=10)
    applied = client.post(url, data={"csrf_token": token, "action": "apply", "version": "0", "copies": "3",
                                     "require_decision": "on"}, timeout=10)
    view = shop.api.get(f"{running.url}/api/v1/printers/{printer['id']}/settings", timeout=10).json()
    with running.services.db.session() as session:
        entry = session.query(AuditEntry).filter(AuditEntry.printer_id == printer["id"],
                                                 AuditEntry.action == "settings.change").one()
        actor, before, after = entry.actor_id, entry.before, entry.after

    assert 'data-setting="copies" data-side="server"' in preview.text
    assert "server-side, applied at once" in preview.text
    assert "Saved settings version 1. Applied now: copies." in applied.text
    assert view["version"] == 1
    assert view["desired"]["copies"] == 3
    assert actor == f"user:{shop_user_id(running, shop)}"
    assert (before, after) == ({"copies": 1}, {"copies": 3})


def test_settings_form_stale_version_conflicts(running: Running, shop: Shop) -> None:
    printer = register_printer(shop.api, running.url, name="Stale form", protocol="cloudprnt", mac="00:11:62:20:00:12")
    client = login(running.url, shop.email)
    url = f"{running.url}/dashboard/printers/{printer['id']}/settings"
    token = csrf_token(_settings_form(client, url))
    patched = shop.api.patch(f"{running.url}/api/v1/printers/{printer['id']}/settings",
                             json={"version": 0, "settings": {"copies": 4}}, timeout=10)
    assert patched.status_code == 200, patched.text

    response = client.post(url, data={"csrf_token": token, "action": "apply", "version": "0", "copies": "2",
                                      "require_decision": "on"}, timeout=10)
    view = shop.api.get(f"{running.url}/api/v1/printers/{printer['id']}/settings", timeout=10).json()

    assert response.status_code == 409
    assert "Someone else changed the settings of this printer" in response.text
    assert "your version 0, now version 1" in response.text
    assert 'name="version" value="1"' in response.text
    assert view["desired"]["copies"] == 4
    assert view["version"] == 1


def test_settings_form_invalid_value_shown_at_field(running: Running, shop: Shop) -> None:
    printer = register_printer(shop.api, running.url, name="Bad value", protocol="cloudprnt", mac="00:11:62:20:00:13")
    client = login(running.url, shop.email)
    url = f"{running.url}/dashboard/printers/{printer['id']}/settings"
    token = csrf_token(_settings_form(client, url))

    response = client.post(url, data={"csrf_token": token, "action": "apply", "version": "0", "copies": "abc",
                                      "require_decision": "on"}, timeout=10)
    view = shop.api.get(f"{running.url}/api/v1/printers/{printer['id']}/settings", timeout=10).json()

    assert response.status_code == 422
    assert '<span class="flash error" data-error-for="copies">copies=&#39;abc&#39; is invalid; use a whole number ' \
           'from 1 to 9</span>' in response.text
    assert view["version"] == 0
    assert view["desired"]["copies"] == 1


def test_settings_form_device_side_read_only_without_channel(running: Running, shop: Shop) -> None:
    printer = register_printer(shop.api, running.url, name="No SNMP", protocol="cloudprnt", mac="00:11:62:20:00:14")
    client = login(running.url, shop.email)

    page = _settings_form(client, f"{running.url}/dashboard/printers/{printer['id']}/settings")

    assert 'name="sys_location"' not in page
    assert 'data-field="sys_location"' in page
    assert "read-only: this printer is not reachable over a channel that carries snmp" in page


def test_bulk_form_rejects_bad_settings_line(running: Running, shop: Shop) -> None:
    client = login(running.url, shop.email)
    token = csrf_token(client.get(f"{running.url}/dashboard/bulk", timeout=10).text)

    response = client.post(f"{running.url}/dashboard/bulk", data={
        "csrf_token": token, "tag": "nowhere", "action": "settings", "settings": "copies 2", "rate": "5"}, timeout=10)

    assert response.status_code == 422
    assert "line 1 (&#39;copies 2&#39;) is not key=value" in response.text


# -- in Chromium ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def support_page(browser: Any, running: Running, shop: Shop) -> Any:
    page = browser.new_page()
    page.goto(f"{running.url}/dashboard/login")
    page.fill("input[name=email]", shop.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{running.url}/dashboard/")
    yield page
    page.close()


def _screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _agent_connected(running: Running, printer_id: int) -> bool:
    with running.services.db.session() as session:
        row = session.get(MqttDevice, printer_id)
        return row is not None and row.connected


@pytest.mark.browser
def test_browser_device_setting_drift_clears_on_report(support_page: Any, running: Running, shop: Shop,
                                                      tmp_path: Path) -> None:
    from playwright.sync_api import expect

    printer = register_printer(shop.api, running.url, name="Bar agent", protocol="device_mqtt")
    with running.services.db.session() as session:
        device = session.get(Printer, printer["id"])
        assert device is not None
        credentials = issue_credentials(session, device)
    page = support_page

    # The agent is not running yet, so the pushed value waits in the device shadow as drift.
    page.goto(f"{running.url}/dashboard/printers/{printer['id']}/settings")
    page.locator("select[name=codepage]").select_option("CP866")
    page.get_by_role("button", name="Preview").click()
    change = page.locator('tr[data-setting="codepage"]')
    expect(change.locator("td.after")).to_have_text("CP866")
    expect(change).to_have_attribute("data-side", "device")
    expect(change.locator("td.how")).to_contain_text("pushed by device_shadow over device_mqtt")
    _screenshot(page, "settings-device-preview")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"{running.url}/dashboard/printers/{printer['id']}")
    expect(page.locator(".flash").first).to_contain_text("shown as drift until the printer reports it: codepage")
    expect(page.locator('[data-role="drift"]')).to_be_visible()
    expect(page.locator('tr[data-setting="codepage"]')).to_have_class("drift")
    _screenshot(page, "settings-drift")
    page.evaluate("window.__noReload = true")

    simulator = EscposNetworkPrinter()
    simulator.start()
    agent = Agent(AgentConfig(device_id=credentials.username, password=credentials.password,
                              mqtt_url=f"mqtt://127.0.0.1:{running.services.settings.mqtt_port}", server_url=running.url,
                              printer_host="127.0.0.1", printer_port=simulator.port,
                              state_file=tmp_path / "agent-state.json", status_interval=0.5, fallback_after=3600.0))
    agent.start()
    try:
        wait_until(lambda: _agent_connected(running, printer["id"]), DEADLINE)
        expect(page.locator('[data-role="drift"]')).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
        row = page.locator('tr[data-setting="codepage"]')
        expect(row).not_to_have_class("drift", timeout=LIVE_TIMEOUT_MS)
        expect(row.locator("td").nth(2)).to_have_text("CP866")
        assert page.evaluate("window.__noReload === true")
        assert agent.state.settings["codepage"] == "CP866"
        _screenshot(page, "settings-confirmed")
    finally:
        agent.stop()
        simulator.stop()


@pytest.mark.browser
def test_browser_bulk_test_print_progress_live(support_page: Any, running: Running, shop: Shop) -> None:
    from playwright.sync_api import expect

    printers = [register_printer(shop.api, running.url, name=f"Till {index}", protocol="cloudprnt",
                                 mac=f"00:11:62:21:00:{index:02x}") for index in range(5)]
    ids = [printer["id"] for printer in printers]
    with running.services.db.session() as session:
        for printer_id in ids:
            row = session.get(Printer, printer_id)
            assert row is not None
            set_labels(session, row, Actor.user(shop.account_id, 0), tags=["bulk-live"], site=None)
    # Two printers poll; the other three never do and stay offline.
    simulators = [CloudPrntSimulator(printer["device"]["cloudprnt_url"], printer["mac"], poll_interval=0.5,
                                     encodings=("text/plain",)) for printer in printers[:2]]
    for simulator in simulators:
        simulator.start()
    page = support_page
    try:
        page.goto(f"{running.url}/dashboard/?tag=bulk-live")
        for printer_id in ids:
            page.locator(f'tr[data-printer-id="{printer_id}"] input[name=printer_id]').check()
        page.get_by_role("button", name="Bulk operation on the ticked printers").click()
        expect(page.locator('[data-role="ticked"] input[name=printer_id]:checked')).to_have_count(len(ids))
        page.locator("select[name=action]").select_option("test_print")
        page.fill("input[name=rate]", "0.5")
        page.get_by_role("button", name="Start").click()
        page.wait_for_url("**/dashboard/bulk/*")
        page.evaluate("window.__noReload = true")

        expect(page.locator('[data-role="percent"]')).to_have_text("100", timeout=LIVE_TIMEOUT_MS)
        expect(page.locator('[data-role="op-state"]')).to_have_text("finished", timeout=LIVE_TIMEOUT_MS)
        expect(page.locator('tr[data-printer-id][data-result="ok"]')).to_have_count(len(ids), timeout=LIVE_TIMEOUT_MS)
        for printer_id in ids:
            expect(page.locator(f'tr[data-printer-id="{printer_id}"] [data-role="detail"]')).to_contain_text(
                "test print queued as job", timeout=LIVE_TIMEOUT_MS)
        assert page.evaluate("window.__noReload === true")
        # A bulk.progress event reached the page over the socket (a state fetch does not set it).
        assert page.evaluate("document.body.dataset.lastSeq !== undefined")
        assert page.evaluate("document.getElementById('bulk-progress').value") == len(ids)
        _screenshot(page, "bulk-operation")
        for simulator in simulators:
            assert simulator.wait_for(lambda: any("TEST PAGE" in job.text for job in simulator.printed), DEADLINE)
        with running.services.db.session() as session:
            jobs = session.query(Job).filter(Job.printer_id.in_(ids), Job.kind == "test").count()
        assert jobs == len(ids)
    finally:
        for simulator in simulators:
            simulator.stop()
