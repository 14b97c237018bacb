"""Plain dataclasses for a printer's health as read over SNMP.

They carry no pysnmp types, so the core can store and compare them; :mod:`protocols.snmp.decode`
builds them and :mod:`protocols.snmp.conditions` turns them into fleet conditions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols.snmp import enums


@dataclass(frozen=True)
class EnumValue:
    """An enumerated integer with its MIB name; ``known`` is False for values outside the MIB."""

    value: int
    name: str
    known: bool

    def __str__(self) -> str:
        return f"{self.name}({self.value})"


@dataclass(frozen=True)
class ErrorState:
    """hrPrinterDetectedErrorState: the raw octets and the set bit numbers (bit 0 = MSB)."""

    raw: bytes
    bits: frozenset[int]

    @property
    def names(self) -> tuple[str, ...]:
        """RFC 2790 names of the set bits that the MIB defines, in bit order."""
        return tuple(enums.ERROR_STATE_BITS[bit] for bit in sorted(self.bits) if bit in enums.ERROR_STATE_BITS)

    @property
    def unknown_bits(self) -> tuple[int, ...]:
        """Set bits that RFC 2790 does not define (bit 15 and beyond)."""
        return tuple(sorted(bit for bit in self.bits if bit not in enums.ERROR_STATE_BITS))

    def as_int16(self) -> int:
        """Return the first two octets as a big-endian integer, the way CUPS and PAPPL show it."""
        padded = (self.raw + b"\x00\x00")[:2]
        return int.from_bytes(padded, "big")


@dataclass(frozen=True)
class Cover:
    """A prtCoverTable row."""

    index: int
    description: str
    status: EnumValue | None

    @property
    def is_open(self) -> bool:
        return self.status is not None and self.status.value in enums.COVER_OPEN_STATUSES


@dataclass(frozen=True)
class InputTray:
    """A prtInputTable row. ``percent`` is the paper left, None when the tray cannot measure it."""

    index: int
    name: str
    description: str
    media_name: str
    input_type: EnumValue | None
    capacity_unit: EnumValue | None
    max_capacity: int | None
    current_level: int | None
    level_state: str
    percent: float | None
    status: int | None


@dataclass(frozen=True)
class Supply:
    """A prtMarkerSuppliesTable row.

    ``percent`` is level / max capacity in percent, clamped to 0–100. For a consumed supply it is
    the supply left. For a receptacle (waste toner box, waste ink tank) RFC 3805 defines the level
    as the space left, so ``percent`` is the free space and ``fill_percent`` the fullness.
    """

    index: int
    description: str
    supply_type: EnumValue | None
    supply_class: EnumValue | None
    unit: EnumValue | None
    colorant: str | None
    max_capacity: int | None
    level: int | None
    level_state: str
    percent: float | None
    is_receptacle: bool

    @property
    def fill_percent(self) -> float | None:
        """Fullness of a receptacle in percent; None for consumed supplies or unmeasured levels."""
        if not self.is_receptacle or self.percent is None:
            return None
        return 100.0 - self.percent


@dataclass(frozen=True)
class Alert:
    """A prtAlertTable row. ``time`` is sysUpTime ticks when the alert was added."""

    index: int
    severity: EnumValue | None
    training_level: EnumValue | None
    group: EnumValue | None
    group_index: int | None
    location: int | None
    code: EnumValue | None
    description: str
    time: int | None


@dataclass(frozen=True)
class MarkerCounter:
    """A prtMarkerTable row: lifetime and since-power-on counts in ``unit`` (pages, sheets, ...)."""

    index: int
    unit: EnumValue | None
    life_count: int | None
    power_on_count: int | None


@dataclass(frozen=True)
class Identity:
    """Who the printer is: vendor from the sysObjectID enterprise arc, model, serial number, MAC."""

    sys_descr: str = ""
    sys_object_id: str = ""
    enterprise: int | None = None
    vendor: str | None = None
    model: str = ""
    serial_number: str = ""
    mac: str | None = None
    sys_name: str = ""
    sys_location: str = ""
    sys_contact: str = ""


@dataclass(frozen=True)
class PrinterHealth:
    """Everything decoded from one poll. ``reachable`` False means the printer did not answer.

    An unreachable printer is distinct from the ``offline`` bit of the error state, which a
    printer that answers sets when its engine is off-line.
    """

    reachable: bool
    error: str | None = None
    printer_index: int | None = None
    identity: Identity = field(default_factory=Identity)
    uptime_ticks: int | None = None
    rebooted: bool = False
    device_status: EnumValue | None = None
    printer_status: EnumValue | None = None
    error_state: ErrorState | None = None
    covers: tuple[Cover, ...] = ()
    inputs: tuple[InputTray, ...] = ()
    supplies: tuple[Supply, ...] = ()
    alerts: tuple[Alert, ...] = ()
    console_lines: tuple[str, ...] = ()
    counters: tuple[MarkerCounter, ...] = ()
    config_changes: int | None = None
    alert_critical_events: int | None = None
    alert_all_events: int | None = None

    @classmethod
    def unreachable(cls, error: str) -> PrinterHealth:
        """Build the health of a printer that did not answer; ``error`` says why."""
        return cls(reachable=False, error=error)
