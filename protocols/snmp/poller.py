"""Poll plan for SNMP printers: cheap GETs every cycle, full walks only when something changed.

Every cycle reads one or two GET PDUs: sysUpTime, hrDeviceStatus, hrPrinterStatus,
hrPrinterDetectedErrorState, prtGeneralConfigChanges, the two prtAlert event counters, and
the level/status instances of the rows found by the last full walk (supply levels, tray
levels, cover status, page counters, console lines). A full walk of the tables runs on the first
poll, after an error, after a reboot, when prtGeneralConfigChanges or an alert counter moved,
and when ``full_walk_interval`` seconds have passed.

One printer's failure never stops the others: :meth:`SnmpPoller.poll` turns every
:class:`SnmpError` into an unreachable :class:`PrinterHealth` for that printer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from protocols.snmp import oids
from protocols.snmp.client import SnmpAuthFailed, SnmpClient, SnmpError, SnmpTarget, SnmpTimeout, SnmpUnreachable
from protocols.snmp.decode import RawValues, SnmpValue, decode_health, decode_vendor, find_printer_index, is_reboot
from protocols.snmp.health import PrinterHealth
from protocols.snmp.oids import Oid

logger = logging.getLogger(__name__)

#: Scalars read on a full walk.
FULL_WALK_SCALARS: tuple[Oid, ...] = (
    oids.OID_SYS_DESCR, oids.OID_SYS_OBJECT_ID, oids.OID_SYS_UP_TIME, oids.OID_SYS_CONTACT,
    oids.OID_SYS_NAME, oids.OID_SYS_LOCATION, oids.OID_HR_SYSTEM_UPTIME,
)

#: Table columns walked on a full walk; hrDeviceType and ifTable rows cover every device and
#: interface, the Printer-MIB columns every hrDeviceIndex.
FULL_WALK_COLUMNS: tuple[Oid, ...] = (
    oids.OID_HR_DEVICE_TYPE,
    oids.OID_IF_TYPE, oids.OID_IF_PHYS_ADDRESS, oids.OID_IF_OPER_STATUS,
    oids.OID_PRT_GENERAL_CONFIG_CHANGES, oids.OID_PRT_GENERAL_PRINTER_NAME, oids.OID_PRT_GENERAL_SERIAL_NUMBER,
    oids.OID_PRT_ALERT_CRITICAL_EVENTS, oids.OID_PRT_ALERT_ALL_EVENTS,
    oids.OID_PRT_COVER_DESCRIPTION, oids.OID_PRT_COVER_STATUS,
    oids.OID_PRT_INPUT_TYPE, oids.OID_PRT_INPUT_CAPACITY_UNIT, oids.OID_PRT_INPUT_MAX_CAPACITY,
    oids.OID_PRT_INPUT_CURRENT_LEVEL, oids.OID_PRT_INPUT_STATUS, oids.OID_PRT_INPUT_MEDIA_NAME,
    oids.OID_PRT_INPUT_NAME, oids.OID_PRT_INPUT_DESCRIPTION,
    oids.OID_PRT_MARKER_COUNTER_UNIT, oids.OID_PRT_MARKER_LIFE_COUNT, oids.OID_PRT_MARKER_POWER_ON_COUNT,
    oids.OID_PRT_MARKER_SUPPLIES_COLORANT_INDEX, oids.OID_PRT_MARKER_SUPPLIES_CLASS,
    oids.OID_PRT_MARKER_SUPPLIES_TYPE, oids.OID_PRT_MARKER_SUPPLIES_DESCRIPTION,
    oids.OID_PRT_MARKER_SUPPLIES_SUPPLY_UNIT, oids.OID_PRT_MARKER_SUPPLIES_MAX_CAPACITY,
    oids.OID_PRT_MARKER_SUPPLIES_LEVEL,
    oids.OID_PRT_MARKER_COLORANT_VALUE,
    oids.OID_PRT_CONSOLE_DISPLAY_BUFFER_TEXT,
    oids.OID_PRT_ALERT_SEVERITY_LEVEL, oids.OID_PRT_ALERT_TRAINING_LEVEL, oids.OID_PRT_ALERT_GROUP,
    oids.OID_PRT_ALERT_GROUP_INDEX, oids.OID_PRT_ALERT_LOCATION, oids.OID_PRT_ALERT_CODE,
    oids.OID_PRT_ALERT_DESCRIPTION, oids.OID_PRT_ALERT_TIME,
)

#: Columns whose known instances are re-read on every cheap poll.
CHEAP_ROW_COLUMNS: tuple[Oid, ...] = (
    oids.OID_PRT_COVER_STATUS, oids.OID_PRT_MARKER_SUPPLIES_LEVEL, oids.OID_PRT_INPUT_CURRENT_LEVEL,
    oids.OID_PRT_MARKER_LIFE_COUNT, oids.OID_PRT_MARKER_POWER_ON_COUNT, oids.OID_PRT_CONSOLE_DISPLAY_BUFFER_TEXT,
)

#: Per-printer columns read by GET once the hrDeviceIndex is known.
PRINTER_INDEX_COLUMNS: tuple[Oid, ...] = (
    oids.OID_HR_DEVICE_DESCR, oids.OID_HR_DEVICE_STATUS, oids.OID_HR_PRINTER_STATUS,
    oids.OID_HR_PRINTER_DETECTED_ERROR_STATE, oids.OID_PRT_GENERAL_CONFIG_CHANGES,
    oids.OID_PRT_ALERT_CRITICAL_EVENTS, oids.OID_PRT_ALERT_ALL_EVENTS,
)

#: Counters whose change triggers a full walk, paired with the state attribute holding them.
_CHANGE_TRIGGERS = (
    (oids.OID_PRT_GENERAL_CONFIG_CHANGES, "config_changes"),
    (oids.OID_PRT_ALERT_CRITICAL_EVENTS, "alert_critical_events"),
    (oids.OID_PRT_ALERT_ALL_EVENTS, "alert_all_events"),
)


@dataclass
class PrinterPollState:
    """Per-printer state that the poller keeps between cycles."""

    printer_index: int | None = None
    snapshot: dict[Oid, SnmpValue] = field(default_factory=dict)
    last_uptime: int | None = None
    last_poll_at: float | None = None
    last_full_walk_at: float | None = None
    needs_full_walk: bool = True
    reachable: bool | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class PollResult:
    """The outcome of polling one printer: its health and why a full walk ran, if it did."""

    printer_id: str
    health: PrinterHealth
    full_walk_reason: str | None


class SnmpPoller:
    """Polls printers through one :class:`SnmpClient` and keeps per-printer state.

    ``full_walk_interval`` is in seconds; ``poll_timeout`` bounds one printer's whole poll in
    seconds, on top of the per-request timeout and retries of its :class:`SnmpTarget`.
    """

    def __init__(
        self, client: SnmpClient, full_walk_interval: float = 3600.0, poll_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._full_walk_interval = full_walk_interval
        self._poll_timeout = poll_timeout
        self._clock = clock
        self._states: dict[str, PrinterPollState] = {}

    def state(self, printer_id: str) -> PrinterPollState:
        """Return the remembered state of ``printer_id`` (a fresh one for a new printer)."""
        return self._states.setdefault(printer_id, PrinterPollState())

    def forget(self, printer_id: str) -> None:
        """Drop the state of a printer that left the fleet."""
        self._states.pop(printer_id, None)

    async def poll_many(self, printers: Iterable[tuple[str, SnmpTarget]]) -> list[PollResult]:
        """Poll every ``(printer_id, target)`` concurrently; one result per printer, in order."""
        return list(await asyncio.gather(*(self.poll(printer_id, target) for printer_id, target in printers)))

    def poll_many_sync(self, printers: Iterable[tuple[str, SnmpTarget]]) -> list[PollResult]:
        """Run :meth:`poll_many` on the client's loop from a caller thread."""
        return self._client.run(self.poll_many(list(printers)))

    async def poll(self, printer_id: str, target: SnmpTarget) -> PollResult:
        """Poll one printer; SNMP errors become an unreachable health, never an exception."""
        state = self.state(printer_id)
        now = self._clock()
        try:
            reason = await asyncio.wait_for(self._poll_values(target, state, now), self._poll_timeout)
        except (SnmpError, asyncio.TimeoutError) as err:
            return self._record_failure(printer_id, target, state, err)

        health = decode_health(state.snapshot, state.printer_index)
        elapsed = now - state.last_poll_at if state.last_poll_at is not None else 0.0
        rebooted = is_reboot(state.last_uptime, health.uptime_ticks, elapsed)
        if rebooted:
            logger.info("Printer rebooted printer=%s host=%s uptime_ticks=%s previous=%s",
                        printer_id, target, health.uptime_ticks, state.last_uptime)
            health = replace(health, rebooted=True)
        if state.reachable is not True:
            logger.info("Printer reachable printer=%s host=%s model=%r", printer_id, target, health.identity.model)
        state.reachable, state.last_error = True, None
        state.last_uptime, state.last_poll_at = health.uptime_ticks, now
        logger.debug("Polled printer=%s host=%s full_walk=%s", printer_id, target, reason)
        return PollResult(printer_id=printer_id, health=health, full_walk_reason=reason)

    def _record_failure(
        self, printer_id: str, target: SnmpTarget, state: PrinterPollState, err: Exception
    ) -> PollResult:
        error = _error_kind(err)
        state.needs_full_walk = True
        if state.reachable is not False or state.last_error != error:
            logger.info("Printer unreachable printer=%s host=%s error=%s detail=%s", printer_id, target, error, err)
        state.reachable, state.last_error = False, error
        return PollResult(printer_id=printer_id, health=PrinterHealth.unreachable(error), full_walk_reason=None)

    async def _poll_values(self, target: SnmpTarget, state: PrinterPollState, now: float) -> str | None:
        """Update ``state.snapshot``; return why a full walk ran, or None for a cheap poll."""
        reason = self._scheduled_walk_reason(state, now)
        if reason is None:
            cheap = await self._client.get(target, cheap_oids(state))
            reason = self._changed_walk_reason(state, cheap, now)
            if reason is None:
                self._merge_cheap(state, cheap)
                return None

        state.snapshot = await self._full_walk(target)
        state.printer_index = find_printer_index(state.snapshot)
        state.snapshot.update(await self._client.get(target, self._printer_index_oids(state)))
        state.last_full_walk_at, state.needs_full_walk = now, False
        return reason

    def _scheduled_walk_reason(self, state: PrinterPollState, now: float) -> str | None:
        if state.printer_index is None:
            return "discovery"
        if state.needs_full_walk:
            return "recovered"
        if state.last_full_walk_at is None or now - state.last_full_walk_at >= self._full_walk_interval:
            return "interval"
        return None

    def _changed_walk_reason(self, state: PrinterPollState, cheap: RawValues, now: float) -> str | None:
        index = state.printer_index
        assert index is not None
        for column_oid, name in _CHANGE_TRIGGERS:
            instance = column_oid + (index,)
            if cheap.get(instance) != state.snapshot.get(instance):
                return f"{name}_changed"
        elapsed = now - state.last_poll_at if state.last_poll_at is not None else 0.0
        uptime = cheap.get(oids.OID_SYS_UP_TIME)
        if isinstance(uptime, int) and is_reboot(state.last_uptime, uptime, elapsed):
            return "rebooted"
        return None

    @staticmethod
    def _merge_cheap(state: PrinterPollState, cheap: RawValues) -> None:
        """Replace the cheap objects in the snapshot; objects the printer stopped returning go."""
        for name in cheap_oids(state):
            if name in cheap:
                state.snapshot[name] = cheap[name]
            else:
                state.snapshot.pop(name, None)

    def _printer_index_oids(self, state: PrinterPollState) -> list[Oid]:
        index = state.printer_index
        assert index is not None
        names = [column_oid + (index,) for column_oid in PRINTER_INDEX_COLUMNS]
        enterprise, _ = decode_vendor(state.snapshot.get(oids.OID_SYS_OBJECT_ID))
        if enterprise in oids.VENDOR_SERIAL_NUMBER_OIDS:
            names.append(oids.VENDOR_SERIAL_NUMBER_OIDS[enterprise])
        return names

    async def _full_walk(self, target: SnmpTarget) -> dict[Oid, SnmpValue]:
        snapshot = await self._client.get(target, FULL_WALK_SCALARS)
        snapshot.update(await self._client.walk(target, FULL_WALK_COLUMNS))
        return snapshot


def cheap_oids(state: PrinterPollState) -> list[Oid]:
    """List the OIDs a cheap poll reads for a printer whose index and rows are known."""
    index = state.printer_index
    if index is None:
        raise ValueError("cheap_oids needs a printer whose hrDeviceIndex was found by a full walk.")
    names = [oids.OID_SYS_UP_TIME, oids.OID_HR_SYSTEM_UPTIME]
    names += [column_oid + (index,) for column_oid in PRINTER_INDEX_COLUMNS if column_oid != oids.OID_HR_DEVICE_DESCR]
    names += [name for name in state.snapshot if _is_instance_of_any(name, CHEAP_ROW_COLUMNS, index)]
    return names


def _is_instance_of_any(name: Oid, columns: Iterable[Oid], printer_index: int) -> bool:
    return any(name[: len(column_oid) + 1] == column_oid + (printer_index,) for column_oid in columns)


def _error_kind(err: Exception) -> str:
    """Name the failure for PrinterHealth.error: timeout, unreachable, auth_failed, protocol_error."""
    if isinstance(err, (SnmpTimeout, asyncio.TimeoutError)):
        return "timeout"
    if isinstance(err, SnmpUnreachable):
        return "unreachable"
    if isinstance(err, SnmpAuthFailed):
        return "auth_failed"
    return "protocol_error"
