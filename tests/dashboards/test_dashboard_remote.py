"""Printer page remote operation and fleet label filters: test print, audit trail, settings twin, tags,
groups and sites."""

from __future__ import annotations

import pytest

from fleet.audit import Actor
from fleet.groups import create_group, set_group_members, set_labels
from fleet.models import Job, Printer
from tests.conftest import Running, register_printer
from tests.dashboards.conftest import Shop, login, new_shop, page_token


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
