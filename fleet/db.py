"""Database engine and sessions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and every transaction starts with ``BEGIN IMMEDIATE``:
pysqlite's deferred transactions let concurrent read-modify-write sequences lose updates silently,
while an immediate write lock queues writers behind the busy timeout instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}", "synchronous=NORMAL", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _on_sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, write_lock: bool = True, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the SQLite locking recipe applied when it is SQLite.

    ``write_lock=False`` gives an SQLite engine for read-only work: deferred transactions, no write lock.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        if write_lock:
            event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision of every Alembic branch (each feature area has its own)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    log.info("database schema upgraded url=%s", engine.url.render_as_string(hide_password=True))


_WRITER_LOCKS: dict[str, threading.RLock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def _writer_lock(url: str) -> threading.RLock:
    """One lock per SQLite file in this process, shared by every Database on that file."""
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(url, threading.RLock())


class Database:
    """Owns the engine and the session factory of one service instance."""

    def __init__(self, url: str, write_lock: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url, write_lock)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time, and a writer that finds the file locked sleeps in growing
        # steps (1, 2, 5, 10 ms, ...) before it retries. Writers of this process queue on a Python
        # lock instead, so the next one starts as soon as the last commits. Other processes still
        # wait through SQLite's busy timeout.
        self._writers = _writer_lock(url) if write_lock and self.engine.dialect.name == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session inside one transaction: committed on success, rolled back on error."""
        if self._writers is not None:
            self._writers.acquire()
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            if self._writers is not None:
                self._writers.release()

    def dispose(self) -> None:
        self.engine.dispose()
