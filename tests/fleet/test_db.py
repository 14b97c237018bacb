import threading

from sqlalchemy import inspect, text

from fleet.db import Database, upgrade
from fleet.models import Account


def test_upgrade_creates_schema(database_url: str) -> None:
    db = Database(database_url)
    upgrade(db.engine)
    tables = set(inspect(db.engine).get_table_names())
    assert {"accounts", "printers", "orders", "jobs", "outbox", "health_events", "alembic_version"} <= tables
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() is not None
    db.dispose()


def test_sqlite_uses_wal_and_busy_timeout(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    db.dispose()


def test_concurrent_read_modify_write_loses_no_update(database_url: str) -> None:
    """Eight threads increment one value through the ORM; BEGIN IMMEDIATE (SQLite) and row locks keep every write."""
    db = Database(database_url)
    upgrade(db.engine)
    with db.session() as session:
        account = Account(name="0", device_key="k", goodcom_code="1", webhook_secret="s")
        session.add(account)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(25):
                with db.session() as session:
                    row = session.get(Account, account.id, with_for_update=True)
                    assert row is not None
                    row.name = str(int(row.name) + 1)
        except BaseException as err:  # noqa: BLE001 (reported by the assertion below)
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with db.session() as session:
        assert session.get(Account, account.id).name == "200"  # type: ignore[union-attr]
    db.dispose()
