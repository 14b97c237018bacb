"""Support-staff commands that drive a running printfleet over its REST API: settings, test prints, commands,
device credentials, bulk.

They talk HTTP only, so they work against any instance: ``--api-url`` and ``--api-key`` (or
``PRINTFLEET_API_URL`` and ``PRINTFLEET_API_KEY``) select the instance and the account.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click
import requests

#: Seconds between progress polls of a bulk operation.
POLL_SECONDS = 0.5
REQUEST_TIMEOUT = 30.0

api_url_option = click.option("--api-url", envvar="PRINTFLEET_API_URL", required=True,
                              help="Base URL of printfleet, e.g. http://127.0.0.1:8080 (or PRINTFLEET_API_URL).")
api_key_option = click.option("--api-key", envvar="PRINTFLEET_API_KEY", required=True,
                              help="API key of the account (or PRINTFLEET_API_KEY); it is never printed.")


class Api:
    """A small client of the REST API that turns error responses into click errors."""

    def __init__(self, url: str, key: str) -> None:
        self.base = url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.session.request(method, self.base + path, timeout=REQUEST_TIMEOUT, **kwargs)
        except requests.RequestException as err:
            raise click.ClickException(f"cannot reach {self.base}: {err}") from None
        if response.status_code >= 400:
            raise click.ClickException(_error_text(response))
        return response.json() if response.content else None


def _error_text(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:300]}"
    text = f"{error.get('message')} (HTTP {response.status_code}, {error.get('code')})"
    for field in error.get("fields") or []:
        text += f"\n  {field.get('field')}: {field.get('reason')}"
    if error.get("supported") is not None:
        text += f"\n  supported: {', '.join(error['supported']) or 'nothing'}"
    return text


def parse_assignments(values: tuple[str, ...]) -> dict[str, Any]:
    """Turn ``key=value`` pairs into a dict; values are read as JSON when they parse, else as text.

    ``copies=2`` gives 2, ``buzzer=true`` gives True, ``header=null`` gives None and
    ``footer=Thank you`` gives the text.
    """
    settings: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not key=value, e.g. copies=2", param_hint="--set")
        try:
            settings[key.strip()] = json.loads(raw)
        except ValueError:
            settings[key.strip()] = raw
    return settings


def _show_settings(view: dict[str, Any]) -> None:
    profile = view["profile"]
    click.echo(f"printer {view['printer_id']}  profile {profile['name']} ({profile['source']})  "
               f"version {view['version']}  reported version {view['reported_version']}")
    for setting in view["settings"]:
        marker = "" if setting["supported"] else "  (not reachable)"
        state = f"  [{setting['state']}]" if setting["state"] not in (None, "applied", "confirmed") else ""
        click.echo(f"  {setting['name']:<24} {json.dumps(setting['desired']):<24} {setting['apply']}{state}{marker}")
    for name, drift in view["drift"].items():
        click.echo(f"  drift: {name} desired {json.dumps(drift['desired'])} reported "
                   f"{json.dumps(drift['reported'])} ({drift['state']}) {drift['message']}".rstrip())


@click.group("printers", help="Inspect and change printers remotely through the REST API.")
def printers_group() -> None:
    pass


@printers_group.command("settings", help="Show a printer's settings, or change them with --set key=value.")
@click.argument("printer_id", type=int)
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Setting to change; repeatable.")
@click.option("--profile", default=None, help="Pin the printer to this firmware profile ('auto' to unpin).")
@click.option("--dry-run", is_flag=True, help="Show what would change without changing it.")
@click.option("--rollback", is_flag=True, help="Return to the previous applied version instead.")
@api_url_option
@api_key_option
def settings_command(printer_id: int, assignments: tuple[str, ...], profile: str | None, dry_run: bool,
                     rollback: bool, api_url: str, api_key: str) -> None:
    api = Api(api_url, api_key)
    path = f"/printers/{printer_id}/settings"
    current = api.call("GET", path)
    if rollback:
        result = api.call("POST", f"{path}/rollback", json={"version": current["version"]})
    elif assignments or profile:
        body: dict[str, Any] = {"version": current["version"], "settings": parse_assignments(assignments),
                                "dry_run": dry_run}
        if profile:
            body["profile"] = None if profile == "auto" else profile
        result = api.call("PATCH", path, json=body)
    else:
        _show_settings(current)
        return
    change = result["change"]
    for name, (before, after) in change["changes"].items():
        click.echo(f"{name}: {json.dumps(before)} -> {json.dumps(after)}")
    for push in change["push"]:
        click.echo(f"pushed {', '.join(push['settings'])} over {push['channel']}: {push['state']} {push['message']}"
                   .rstrip())
    click.echo(("would be version " if dry_run else "version ") + str(change["version"]))


@printers_group.command("test-print", help="Queue a test print and, with --wait, follow it until it finishes.")
@click.argument("printer_id", type=int)
@click.option("--wait", "wait_seconds", type=float, default=0.0, show_default=True,
              help="Seconds to wait for the printer to print it; 0 returns at once.")
@api_url_option
@api_key_option
def test_print_command(printer_id: int, wait_seconds: float, api_url: str, api_key: str) -> None:
    api = Api(api_url, api_key)
    job = api.call("POST", f"/printers/{printer_id}/test-print")
    click.echo(f"test print queued: job {job['id']}")
    deadline = time.monotonic() + wait_seconds
    while job["state"] in ("queued", "offered", "fetched") and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        job = api.call("GET", f"/printers/{printer_id}/jobs/{job['id']}")
    click.echo(f"job {job['id']} is {job['state']}")


@printers_group.command("command", help="Send a remote command: reboot, status or identify.")
@click.argument("printer_id", type=int)
@click.argument("command", type=click.Choice(["reboot", "status", "identify"]))
@api_url_option
@api_key_option
def command_command(printer_id: int, command: str, api_url: str, api_key: str) -> None:
    result = Api(api_url, api_key).call("POST", f"/printers/{printer_id}/commands", json={"command": command})
    click.echo(f"{command}: {result['state']} {result['message']}".rstrip())


@printers_group.command("device-credentials",
                        help="Issue (or rotate) the MQTT login of a device-protocol printer and print it once.")
@click.argument("printer_id", type=int)
@api_url_option
@api_key_option
def device_credentials_command(printer_id: int, api_url: str, api_key: str) -> None:
    login = Api(api_url, api_key).call("POST", f"/printers/{printer_id}/device-credentials")
    click.echo(f"device id: {login['username']}")
    click.echo(f"password (shown once, store it now; issuing again replaces it): {login['password']}")
    click.echo(f"broker: {login['broker_url']}")
    click.echo(f"HTTP fallback: {login['http_fallback_url']}")
    click.echo("agent: PRINTFLEET_AGENT_PASSWORD='<password>' printfleet-agent "
               f"--device-id {login['username']} --mqtt {login['broker_url']} "
               f"--server {login['http_fallback_url'].removesuffix('/device/v1')} --printer HOST:9100")


@click.command("bulk", help="Run a settings change, test print or command on many printers, with a progress bar.")
@click.argument("action", type=click.Choice(["settings", "test_print", "reboot", "status", "identify"]))
@click.option("--ids", default=None, help="Comma-separated printer ids.")
@click.option("--tag", default=None, help="Printers with this tag.")
@click.option("--group", default=None, help="Printers in this group (id or name).")
@click.option("--site", default=None, help="Printers at this site.")
@click.option("--profile", default=None, help="Printers with this firmware profile.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Setting to change (settings).")
@click.option("--dry-run", is_flag=True, help="Check every printer and show what would change.")
@click.option("--rate", type=float, default=10.0, show_default=True, help="Printers per second at most.")
@api_url_option
@api_key_option
def bulk_command(action: str, ids: str | None, tag: str | None, group: str | None, site: str | None,
                 profile: str | None, assignments: tuple[str, ...], dry_run: bool, rate: float, api_url: str,
                 api_key: str) -> None:
    selection: dict[str, Any] = {"tag": tag, "group": group, "site": site, "profile": profile}
    selection = {key: value for key, value in selection.items() if value is not None}
    if ids:
        try:
            selection["printer_ids"] = [int(part) for part in ids.split(",") if part.strip()]
        except ValueError:
            raise click.BadParameter(f"{ids!r} is not a comma-separated list of ids", param_hint="--ids") from None
    body = {"action": action, "selection": selection, "dry_run": dry_run, "rate_per_second": rate,
            "settings": parse_assignments(assignments) if action == "settings" else {}}
    api = Api(api_url, api_key)
    operation = api.call("POST", "/bulk-operations", json=body)
    click.echo(f"bulk operation {operation['id']}: {action} on {operation['total']} printers"
               + (" (dry run)" if dry_run else ""))
    operation = _follow(api, operation)
    click.echo(f"done: {operation['succeeded']} succeeded, {operation['failed']} failed or refused")
    for row in operation["results"]:
        if row["state"] != "ok" or dry_run:
            click.echo(f"  printer {row['printer_id']}: {row['state']} {_result_text(row['detail'])}".rstrip())


def _follow(api: Api, operation: dict[str, Any]) -> dict[str, Any]:
    """Poll the operation until it finishes, drawing a progress bar; return the final view with results."""
    shown = 0
    with click.progressbar(length=operation["total"], label="printers", show_pos=True) as bar:
        while True:
            operation = api.call("GET", f"/bulk-operations/{operation['id']}", params={"limit": 1})
            bar.update(operation["done"] - shown)
            shown = operation["done"]
            if operation["state"] == "finished":
                break
            time.sleep(POLL_SECONDS)
    return api.call("GET", f"/bulk-operations/{operation['id']}", params={"limit": 10_000})  # type: ignore[no-any-return]


def _result_text(detail: dict[str, Any]) -> str:
    if "message" in detail:
        return str(detail["message"])
    if "changes" in detail:
        return ", ".join(f"{name} {json.dumps(pair[0])} -> {json.dumps(pair[1])}"
                         for name, pair in detail["changes"].items()) or "no change"
    return json.dumps(detail)
