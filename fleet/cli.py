"""The ``printfleet`` command: serve, demo, account management and protocol tools."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from fleet.config import ConfigError, Settings, load_settings
from fleet.errors import StartupError

log = logging.getLogger(__name__)


def _settings(config_file: str | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config_file=config_file, overrides={k: v for k, v in overrides.items() if v is not None})
    except ConfigError as err:
        raise click.ClickException(str(err)) from None


@click.group(help="printfleet: printer fleet management and order printing service.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML configuration file (also PRINTFLEET_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
    ctx.obj = {"config_file": config_file}


@main.command(help="Run the service: API, printer endpoints, dashboards, scheduler and outbox worker.")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1, or PRINTFLEET_HOST).")
@click.option("--port", type=int, default=None, help="TCP port (default 8080, or PRINTFLEET_PORT).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    from fleet.app import create_app, shutdown
    from fleet.server import PortInUse, check_port, run_server

    settings = _settings(ctx.obj["config_file"], host=host, port=port)
    try:
        check_port(settings.host, settings.port)
        app = create_app(settings)
    except (PortInUse, StartupError) as err:
        raise click.ClickException(str(err)) from None

    def ready() -> None:
        click.echo(f"printfleet listening on http://{settings.host}:{settings.port}/ "
                   f"(API docs: http://{settings.host}:{settings.port}/api/v1/docs, "
                   f"database: {settings.database_url})")

    try:
        run_server(app, settings.host, settings.port, on_ready=ready)
    except PortInUse as err:
        raise click.ClickException(str(err)) from None
    finally:
        shutdown(app)


@main.command(help="Run the service with simulated printers and a stream of sample orders.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8080, show_default=True, help="TCP port; 0 picks a free one.")
@click.option("--database", default=None, help="Database URL (default: a new SQLite file in a temporary folder).")
@click.option("--orders", "order_count", type=int, default=0, show_default=True,
              help="Sample orders to send; 0 sends one every --every seconds until stopped.")
@click.option("--every", type=float, default=8.0, show_default=True, help="Seconds between sample orders.")
@click.option("--duration", type=float, default=0.0, show_default=True,
              help="Stop after this many seconds (0 runs until Ctrl-C).")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, database: str | None, order_count: int, every: float,
         duration: float) -> None:
    from fleet.demo import run_demo

    code = run_demo(host=host, port=port, database_url=database, order_count=order_count, every=every,
                    duration=duration, config_file=ctx.obj["config_file"])
    sys.exit(code)


@main.group(help="Manage accounts.")
def account() -> None:
    pass


@account.command("create", help="Create an account and print its API key once.")
@click.argument("name")
@click.option("--timezone", default="UTC", show_default=True,
              help="IANA time zone of the shop (e.g. Europe/Berlin), used for printers' local clock times.")
@click.pass_context
def account_create(ctx: click.Context, name: str, timezone: str) -> None:
    from fleet.accounts import create_account
    from fleet.api.account import check_timezone
    from fleet.db import Database, upgrade
    from fleet.errors import FleetError

    settings = _settings(ctx.obj["config_file"])
    db = Database(settings.database_url)
    upgrade(db.engine)
    try:
        with db.session() as session:
            created = create_account(session, name)
            created.account.timezone = check_timezone(timezone)
            account_id = created.account.id
    except (ValueError, FleetError) as err:
        raise click.ClickException(str(err)) from None
    finally:
        db.dispose()
    click.echo(f"account {account_id} created: {name} (database: {settings.database_url})")
    click.echo(f"API key (shown once, store it now): {created.api_key}")


@main.group(help="Manage dashboard users.")
def user() -> None:
    pass


@user.command("create", help="Create a dashboard user of ACCOUNT_ID and print its password once.")
@click.argument("account_id", type=int)
@click.argument("email")
@click.option("--role", type=click.Choice(["operator", "support", "admin"]), default="operator", show_default=True,
              help="operator: orders; support: printer settings and quarantine; admin: both.")
@click.pass_context
def user_create(ctx: click.Context, account_id: int, email: str, role: str) -> None:
    from fleet.db import Database, upgrade
    from fleet.errors import FleetError
    from fleet.users import create_user

    settings = _settings(ctx.obj["config_file"])
    db = Database(settings.database_url)
    upgrade(db.engine)
    try:
        with db.session() as session:
            created = create_user(session, account_id, email, role)
            user_id, login = created.user.id, created.user.email
    except FleetError as err:
        raise click.ClickException(err.message) from None
    finally:
        db.dispose()
    click.echo(f"dashboard user {user_id} created: {login} ({role}) in account {account_id}")
    click.echo(f"password (shown once, store it now): {created.password}")


def _register_protocol_commands() -> None:
    try:
        from protocols.snmp.cli import snmp
    except ImportError as err:  # the SNMP extras are optional at run time
        log.debug("snmp commands unavailable: %s", err)
        return
    main.add_command(snmp)


def _register_remote_commands() -> None:
    from fleet.remote_cli import bulk_command, printers_group

    main.add_command(printers_group)
    main.add_command(bulk_command)


_register_remote_commands()
_register_protocol_commands()


if __name__ == "__main__":
    main()
