"""Dashboard users: creation rules, password check, and the ``printfleet user create`` command."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from fleet.accounts import create_account
from fleet.cli import main
from fleet.db import Database, upgrade
from fleet.errors import InvalidInput, NotFound
from fleet.users import DuplicateUser, authenticate_user, can, create_user


@pytest.fixture
def database(database_url: str) -> Database:
    db = Database(database_url)
    upgrade(db.engine)
    yield db
    db.dispose()


def test_create_user_hashes_and_checks_password(database: Database) -> None:
    with database.session() as session:
        account = create_account(session, "Users shop").account
        created = create_user(session, account.id, " Ops@Example.COM ", "operator")
        user_id = created.user.id
        assert created.user.email == "ops@example.com"
        assert created.user.password_hash.startswith("scrypt:")
        assert created.password not in created.user.password_hash

    with database.session() as session:
        assert authenticate_user(session, "OPS@example.com", created.password).id == user_id  # type: ignore[union-attr]
        assert authenticate_user(session, "ops@example.com", created.password + "x") is None
        assert authenticate_user(session, "nobody@example.com", created.password) is None


@pytest.mark.parametrize(("email", "role", "password", "field"), [
    ("not-an-email", "operator", None, "email"),
    ("a@example.com", "owner", None, "role"),
    ("a@example.com", "admin", "short", "password"),
], ids=["email", "role", "password"])
def test_create_user_rejects_invalid_input(database: Database, email: str, role: str, password: str | None,
                                           field: str) -> None:
    with database.session() as session:
        account = create_account(session, "Invalid shop").account
        with pytest.raises(InvalidInput) as caught:
            create_user(session, account.id, email, role, password)
        assert caught.value.field == field


def test_create_user_rejects_duplicates_and_unknown_accounts(database: Database) -> None:
    with database.session() as session:
        account = create_account(session, "Duplicate shop").account
        create_user(session, account.id, "dup@example.com", "admin")
        with pytest.raises(DuplicateUser, match="dup@example.com already exists"):
            create_user(session, account.id, "DUP@example.com", "support")
        with pytest.raises(NotFound, match="account 999 does not exist"):
            create_user(session, 999, "other@example.com", "admin")


@pytest.mark.parametrize(("role", "permission", "allowed"), [
    ("operator", "orders", True), ("operator", "printers", False), ("support", "orders", False),
    ("support", "printers", True), ("admin", "orders", True), ("admin", "printers", True), ("unknown", "view", False),
])
def test_role_permissions(role: str, permission: str, allowed: bool) -> None:
    assert can(role, permission) is allowed


def test_user_create_command_prints_password_once(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRINTFLEET_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    created = runner.invoke(main, ["account", "create", "CLI shop"])
    assert created.exit_code == 0, created.output

    result = runner.invoke(main, ["user", "create", "1", "cli@example.com", "--role", "support"])
    assert result.exit_code == 0, result.output
    assert "dashboard user 1 created: cli@example.com (support) in account 1" in result.output
    password = re.search(r"password \(shown once, store it now\): (\S+)", result.output)
    assert password is not None
    db = Database(sqlite_url)
    with db.session() as session:
        assert authenticate_user(session, "cli@example.com", password.group(1)) is not None
    db.dispose()

    again = runner.invoke(main, ["user", "create", "1", "cli@example.com"])
    assert again.exit_code == 1
    assert "already exists" in again.output
