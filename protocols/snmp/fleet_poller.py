"""Adapter between the fleet and the SNMP layer: probes, scheduled polls, SETs and resets.

One :class:`FleetSnmpBackend` per app instance owns one :class:`SnmpClient` (one loop thread,
one SnmpEngine), started on first use and closed by :meth:`FleetSnmpBackend.close`. The
scheduler job :func:`run_due_polls` claims the due printers from the database, polls them in
one concurrent batch through :class:`SnmpPoller`, and hands the decoded observations to
:mod:`fleet.snmp_service`. No business rule lives here: the adapter only translates.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from fleet import snmp_service
from fleet.snmp_service import (
    SetOutcome,
    SnmpCommandFailed,
    SnmpConfig,
    SnmpObservation,
    SnmpPrinterUnreachable,
)
from protocols.snmp import oids
from protocols.snmp.client import (
    CommunityAuth,
    SnmpAuthFailed,
    SnmpClient,
    SnmpError,
    SnmpTarget,
    SnmpUnreachable,
    UsmAuth,
)
from protocols.snmp.conditions import to_conditions, to_detail
from protocols.snmp.decode import SnmpValue, decode_text
from protocols.snmp.health import PrinterHealth
from protocols.snmp.poller import SnmpPoller

if TYPE_CHECKING:
    from fleet.scheduler import Scheduler
    from fleet.services import Services

log = logging.getLogger(__name__)

#: Seconds between scheduler ticks; each tick polls only the printers whose own interval elapsed.
POLL_TICK_SECONDS = 2.0
JOB_ID = "snmp_poll"

_IDENTITY_OIDS = {"sysName": oids.OID_SYS_NAME, "sysLocation": oids.OID_SYS_LOCATION, "sysContact": oids.OID_SYS_CONTACT}
_IDENTITY_KEYWORDS = {"sysName": "sys_name", "sysLocation": "sys_location", "sysContact": "sys_contact"}
_WRITE_ACCESS_HINT = ("use a community with write access or an SNMPv3 user allowed to write, "
                      "and check that SNMP writes are enabled on the printer")


def target_of(config: SnmpConfig, timeout: float, retries: int) -> SnmpTarget:
    """Build the pysnmp-side target of a fleet SNMP config."""
    auth: CommunityAuth | UsmAuth
    v3 = config.secret.get("v3")
    if config.version == "3" and v3:
        auth = UsmAuth(v3["user"], v3["auth_key"], v3["priv_key"], v3.get("auth_protocol", "SHA"),
                       v3.get("priv_protocol", "AES"), v3.get("context_name", ""))
    else:
        auth = CommunityAuth(config.secret["community"], "1" if config.version == "1" else "2c")
    return SnmpTarget(config.host, config.port, auth, timeout=timeout, retries=retries)


def observe(health: PrinterHealth, config: SnmpConfig) -> SnmpObservation:
    """Translate a decoded :class:`PrinterHealth` into the core's observation."""
    if not health.reachable:
        return SnmpObservation(reachable=False, error=health.error or "unreachable")
    identity = health.identity
    return SnmpObservation(
        reachable=True,
        conditions=frozenset(to_conditions(health, supply_low_percent=config.supply_low_percent)),
        detail=to_detail(health),
        identity={"vendor": identity.vendor, "model": identity.model, "serial_number": identity.serial_number,
                  "mac": identity.mac, "sys_object_id": identity.sys_object_id, "sys_descr": identity.sys_descr},
        printer_index=health.printer_index,
        rebooted=health.rebooted,
    )


class FleetSnmpBackend:
    """The :class:`fleet.snmp_service.SnmpBackend` of one app instance.

    ``timeout`` (seconds per attempt) and ``retries`` apply to scheduled polls and SETs;
    ``probe_timeout`` to the one-off probe at registration, which a person waits for.
    """

    def __init__(self, max_concurrency: int = 50, timeout: float = 2.0, retries: int = 1,
                 probe_timeout: float = 1.5, poll_timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.retries = retries
        self.probe_timeout = probe_timeout
        self.poll_timeout = poll_timeout
        self._max_concurrency = max_concurrency
        self._lock = threading.Lock()
        self._client: SnmpClient | None = None
        self._poller: SnmpPoller | None = None

    def _started(self) -> tuple[SnmpClient, SnmpPoller]:
        with self._lock:
            if self._client is None or self._poller is None:
                self._client = SnmpClient(self._max_concurrency).start()
                # Full walks are scheduled per printer in poll(), so the poller's own interval is
                # only a backstop.
                self._poller = SnmpPoller(self._client, full_walk_interval=86400.0, poll_timeout=self.poll_timeout)
            return self._client, self._poller

    def close(self) -> None:
        with self._lock:
            client, self._client, self._poller = self._client, None, None
        if client is not None:
            client.close()

    def probe(self, config: SnmpConfig) -> SnmpObservation:
        client, _ = self._started()
        prober = SnmpPoller(client, poll_timeout=max(5.0, self.probe_timeout * 4))
        target = target_of(config, self.probe_timeout, 1)
        result = prober.poll_many_sync([("probe", target)])[0]
        log.info("snmp probe host=%s reachable=%s error=%s model=%r", target, result.health.reachable,
                 result.health.error or "-", result.health.identity.model)
        return observe(result.health, config)

    def poll(self, configs: list[SnmpConfig]) -> list[SnmpObservation]:
        _, poller = self._started()
        now = time.monotonic()
        batch = []
        for config in configs:
            key = str(config.printer_id)
            state = poller.state(key)
            if state.last_full_walk_at is not None and now - state.last_full_walk_at >= config.full_walk_interval_seconds:
                state.needs_full_walk = True
            batch.append((key, target_of(config, self.timeout, self.retries)))
        results = poller.poll_many_sync(batch)
        return [observe(result.health, config) for result, config in zip(results, configs)]

    # NOTE: nothing calls forget() when a printer is deleted yet, so its poll state stays in
    # memory until the process restarts.
    def forget(self, printer_id: int) -> None:
        if self._poller is not None:
            self._poller.forget(str(printer_id))

    def set_identity(self, config: SnmpConfig, name: str, value: str) -> SetOutcome:
        client, _ = self._started()
        target = target_of(config, self.timeout, self.retries)
        name_oid = _IDENTITY_OIDS[name]
        try:
            before = client.run(client.get(target, [name_oid])).get(name_oid)
            client.run(client.set_identity(target, **{_IDENTITY_KEYWORDS[name]: value}))
            after = client.run(client.get(target, [name_oid])).get(name_oid)
        except SnmpError as err:
            raise _command_error(config, name, err) from err
        return SetOutcome(object=name, before=_plain(before), after=_plain(after))

    def reset(self, config: SnmpConfig, mode: str) -> SetOutcome:
        client, _ = self._started()
        target = target_of(config, self.timeout, self.retries)
        assert config.printer_index is not None
        name_oid = oids.OID_PRT_GENERAL_RESET + (config.printer_index,)
        try:
            before = client.run(client.get(target, [name_oid])).get(name_oid)
            status = client.run(client.reset_printer(target, config.printer_index, snmp_service.RESET_MODES[mode]))
        except SnmpError as err:
            raise _command_error(config, "prtGeneralReset", err) from err
        after: SnmpValue | None = None
        if status == "confirmed":
            try:
                after = client.run(client.get(target, [name_oid])).get(name_oid)
            except SnmpUnreachable:
                status = "no_answer"
        return SetOutcome(object="prtGeneralReset", before=_plain(before), after=_plain(after), status=status)


def _plain(value: SnmpValue | None) -> str | int | None:
    if isinstance(value, bytes):
        return decode_text(value)
    if isinstance(value, tuple):
        return oids.dotted(value)
    return value


def _command_error(config: SnmpConfig, name: str, err: SnmpError) -> Exception:
    printer = config.printer_id
    if isinstance(err, SnmpAuthFailed):
        return SnmpCommandFailed(f"{name} was not written on printer {printer}: the printer rejected the SNMP "
                                 f"credentials or denied access ({err}); {_WRITE_ACCESS_HINT}")
    if isinstance(err, SnmpUnreachable):
        return SnmpPrinterUnreachable(f"{name} was not written on printer {printer}: no answer from "
                                      f"{config.host}:{config.port}. Check that the printer is online; agents "
                                      "also drop requests with a wrong community")
    return SnmpCommandFailed(f"{name} was not written on printer {printer}: {err} To fix it, {_WRITE_ACCESS_HINT}")


def run_due_polls(services: Services) -> int:
    """Scheduler job: poll every SNMP printer whose interval elapsed, in one batch; return how many."""
    backend = services.extras.get(snmp_service.BACKEND_KEY)
    if not isinstance(backend, FleetSnmpBackend):
        return 0
    with services.db.session() as session:
        configs = snmp_service.claim_due_printers(session)
    if not configs:
        return 0

    started = time.monotonic()
    observations = backend.poll(configs)
    results = [(config.printer_id, observation) for config, observation in zip(configs, observations)
               if config.printer_id is not None]
    with services.db.session() as session:
        applied = snmp_service.apply_poll_results(session, results)
    unreachable = sum(1 for observation in observations if not observation.reachable)
    log.debug("snmp poll batch printers=%d applied=%d unreachable=%d seconds=%.2f", len(configs), applied,
              unreachable, time.monotonic() - started)
    return applied


def install(services: Services, **options: Any) -> FleetSnmpBackend:
    """Create this instance's backend and register it with the core; the client starts on first use."""
    backend = FleetSnmpBackend(**options)
    snmp_service.install_backend(services, backend)
    return backend


def schedule(scheduler: Scheduler) -> None:
    """Add the poll job to ``scheduler``."""
    scheduler.add_job(run_due_polls, POLL_TICK_SECONDS, JOB_ID)
