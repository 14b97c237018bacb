"""Periodic jobs (APScheduler 3): presence flush and offline sweep, order expiry, unconfirmed jobs.

Each job opens its own transaction and is safe to run in several processes at once (every update is
guarded by the state it expects); with PostgreSQL only the process holding the advisory lock runs
them, so a scaled-out fleet does not do the work N times.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from fleet import dispatch, health, orders
from fleet.services import Services

log = logging.getLogger(__name__)

#: PostgreSQL advisory lock key that elects the scheduler process ("pfsched" as an integer).
ADVISORY_LOCK_KEY = 0x7066736368656400


def run_presence_flush(services: Services) -> None:
    """Write this process's last-seen times; every process runs it, because each serves its own polls."""
    with services.db.session() as session:
        services.presence.flush(session)


def run_offline_sweep(services: Services) -> None:
    with services.db.session() as session:
        went = health.sweep_offline(session, services.presence, services.settings.default_poll_interval_seconds)
    if went:
        log.info("offline sweep marked printers offline count=%s ids=%s", len(went), went[:20])


def run_expiry(services: Services) -> None:
    with services.db.session() as session:
        count = orders.expire_orders(session)
    if count:
        log.info("orders expired count=%s", count)


def run_unconfirmed(services: Services) -> None:
    timeout = timedelta(seconds=services.settings.confirm_timeout_seconds)
    with services.db.session() as session:
        dispatch.mark_unconfirmed(session, timeout)


class Scheduler:
    """Runs the periodic jobs in a background thread when this process is the elected leader."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._scheduler = BackgroundScheduler(job_defaults={"coalesce": True, "max_instances": 1}, timezone="UTC")
        self._lock_connection = None
        #: True once start() won the leader election (always on SQLite).
        self.leader = False

    def start(self) -> bool:
        """Start the jobs; return False when another process holds the leader lock and only local jobs run."""
        self._scheduler.add_job(run_presence_flush, "interval", seconds=2, args=[self.services], id="presence_flush")
        leader = self._elect()
        self.leader = leader
        jobs = [(run_offline_sweep, 2), (run_expiry, 10), (run_unconfirmed, 5)] if leader else []
        for function, seconds in jobs:
            self._scheduler.add_job(function, "interval", seconds=seconds, args=[self.services], id=function.__name__)
        self._scheduler.start()
        if not leader:
            log.info("scheduler started with local jobs only: another process holds the leader lock")
            return False
        log.info("scheduler started jobs=%s", ",".join(function.__name__ for function, _ in jobs))
        return True

    def add_job(self, function, seconds: float, job_id: str,  # type: ignore[no-untyped-def]
                leader_only: bool = False) -> None:
        """Run ``function(services)`` every ``seconds``; with ``leader_only``, only in the elected process."""
        if leader_only and not self.leader:
            log.info("scheduler job not added job=%s: another process has the leader lock", job_id)
            return
        self._scheduler.add_job(function, "interval", seconds=seconds, args=[self.services], id=job_id)

    def job(self, job_id: str) -> Job | None:
        """Return the scheduled job ``job_id``, or None when it is not scheduled."""
        return self._scheduler.get_job(job_id)

    def _elect(self) -> bool:
        if self.services.db.dialect != "postgresql":
            return True
        connection = self.services.db.engine.connect()
        got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}).scalar()
        connection.commit()
        if not got:
            connection.close()
            return False
        self._lock_connection = connection
        return True

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._lock_connection is not None:
            self._lock_connection.close()
            self._lock_connection = None
        log.info("scheduler stopped")
