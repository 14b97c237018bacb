"""SNMP client on pysnmp 7 asyncio: one event-loop thread owns one SnmpEngine.

pysnmp binds an SnmpEngine to the event loop it first ran on, and building an engine costs
about 0.1 s, so :class:`SnmpClient` starts one loop thread with one engine and other threads
submit coroutines to it with :meth:`SnmpClient.run` / :meth:`SnmpClient.submit`
(``asyncio.run_coroutine_threadsafe`` underneath). Every request holds a slot of an
``asyncio.Semaphore`` because all requests share one UDP socket and a burst of hundreds
overflows its receive buffer.

Errors are mapped to our own tree and raised ``from`` the pysnmp error::

    SnmpError
    ├── SnmpUnreachable          no usable answer (socket error)
    │   └── SnmpTimeout          no answer before timeout x (retries + 1); also a wrong v1/v2c community
    ├── SnmpAuthFailed           v3 user, key or digest rejected; authorizationError, noAccess
    └── SnmpProtocolError        any other error status or malformed exchange
        └── SnmpWriteRejected    a SET was refused or did not read back as written
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pyasn1.type import base, univ
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch import asyncio as hlapi
from pysnmp.proto import errind, rfc1902, rfc1905

from protocols.snmp.decode import SnmpValue
from protocols.snmp.oids import (
    OID_PRT_GENERAL_RESET,
    OID_SYS_CONTACT,
    OID_SYS_LOCATION,
    OID_SYS_NAME,
    Oid,
    dotted,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Upper bound of varbinds requested in one GET or GETBULK. snmpsim returns at most 64 per
#: response by default, and small printer agents reject big PDUs with tooBig.
MAX_VARBINDS_PER_REQUEST = 48
#: Upper bound of requests in one walk, so a looping agent cannot keep a walk going forever.
MAX_WALK_REQUESTS = 500

#: PrtGeneralResetTC values: notResetting(3) is what a printer reads back when idle.
NOT_RESETTING = 3
POWER_CYCLE_RESET = 4
RESET_MODES = frozenset({4, 5, 6})

AUTH_PROTOCOLS = {
    "MD5": hlapi.usmHMACMD5AuthProtocol,
    "SHA": hlapi.usmHMACSHAAuthProtocol,
    "SHA224": hlapi.usmHMAC128SHA224AuthProtocol,
    "SHA256": hlapi.usmHMAC192SHA256AuthProtocol,
    "SHA384": hlapi.usmHMAC256SHA384AuthProtocol,
    "SHA512": hlapi.usmHMAC384SHA512AuthProtocol,
}
PRIV_PROTOCOLS = {
    "DES": hlapi.usmDESPrivProtocol,
    "3DES": hlapi.usm3DESEDEPrivProtocol,
    "AES": hlapi.usmAesCfb128Protocol,
    "AES128": hlapi.usmAesCfb128Protocol,
    "AES192": hlapi.usmAesCfb192Protocol,
    "AES256": hlapi.usmAesCfb256Protocol,
}

_AUTH_INDICATIONS = (
    errind.UnknownUserName, errind.WrongDigest, errind.AuthenticationFailure, errind.AuthenticationError,
    errind.DecryptionError, errind.UnknownSecurityName, errind.UnsupportedSecurityLevel,
    errind.NotInTimeWindow, errind.UnknownCommunityName,
)
# errorStatus values: noSuchName(2) (SNMPv1 only), noAccess(6), authorizationError(16).
_NO_SUCH_NAME = 2
_TOO_BIG = 1
_AUTH_ERROR_STATUSES = frozenset({6, 16})


class SnmpError(Exception):
    """Base of every error the SNMP layer raises."""


class SnmpUnreachable(SnmpError):
    """The printer gave no usable answer."""


class SnmpTimeout(SnmpUnreachable):
    """No answer before timeout x (retries + 1). A wrong v1/v2c community looks the same."""


class SnmpAuthFailed(SnmpError):
    """The printer rejected our SNMPv3 credentials or denied access."""


class SnmpProtocolError(SnmpError):
    """The printer answered with an error status or an exchange we cannot use."""


class SnmpWriteRejected(SnmpProtocolError):
    """A SET was refused by the printer or did not read back as written."""


@dataclass(frozen=True)
class CommunityAuth:
    """SNMPv1 or v2c community. The community is a secret: it is kept out of repr and logs."""

    community: str = field(repr=False)
    version: Literal["1", "2c"] = "2c"

    def __post_init__(self) -> None:
        if self.version not in ("1", "2c"):
            raise ValueError(f"Invalid SNMP version {self.version!r}: use '1' or '2c' (or UsmAuth for v3).")


@dataclass(frozen=True)
class UsmAuth:
    """SNMPv3 USM user for authPriv. Keys are secrets and are kept out of repr and logs.

    ``context_name`` selects the context on agents that serve several (snmpsim maps it to a
    recording); printers normally use the empty default.
    """

    user: str
    auth_key: str = field(repr=False)
    priv_key: str = field(repr=False)
    auth_protocol: str = "SHA"
    priv_protocol: str = "AES"
    context_name: str = ""

    def __post_init__(self) -> None:
        if self.auth_protocol not in AUTH_PROTOCOLS:
            raise ValueError(f"Invalid SNMPv3 auth protocol {self.auth_protocol!r}: use one of {sorted(AUTH_PROTOCOLS)}.")
        if self.priv_protocol not in PRIV_PROTOCOLS:
            raise ValueError(f"Invalid SNMPv3 privacy protocol {self.priv_protocol!r}: use one of {sorted(PRIV_PROTOCOLS)}.")
        if len(self.auth_key) < 8 or len(self.priv_key) < 8:
            raise ValueError("SNMPv3 auth and privacy keys must be at least 8 characters (RFC 3414).")

    @property
    def version(self) -> str:
        return "3"


@dataclass(frozen=True)
class SnmpTarget:
    """Where and how to reach one printer. ``timeout`` is in seconds per attempt."""

    host: str
    port: int = 161
    auth: CommunityAuth | UsmAuth = field(default_factory=lambda: CommunityAuth("public"))
    timeout: float = 1.0
    retries: int = 1

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def to_native(value: Any) -> SnmpValue | None:
    """Convert a pysnmp value to int, bytes or an OID tuple; None for noSuch*/endOfMibView/Null."""
    if isinstance(value, (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView, univ.Null)):
        return None
    if isinstance(value, univ.ObjectIdentifier):
        return tuple(int(part) for part in value.asTuple())
    if isinstance(value, univ.OctetString):
        return bytes(value)
    if isinstance(value, univ.Integer):
        return int(value)
    return None


def to_pysnmp(value: SnmpValue | str) -> Any:
    """Convert a Python value to the pysnmp type used in a SET: str/bytes, int, OID tuple.

    A pysnmp value (for example ``rfc1902.TimeTicks``) passes through unchanged.
    """
    if isinstance(value, base.Asn1Item):
        return value
    if isinstance(value, bool):
        raise TypeError("SNMP has no boolean type; send an INTEGER enum instead.")
    if isinstance(value, int):
        return rfc1902.Integer32(value)
    if isinstance(value, str):
        return rfc1902.OctetString(value.encode("utf-8"))
    if isinstance(value, bytes):
        return rfc1902.OctetString(value)
    return rfc1902.ObjectIdentifier(value)


class SnmpClient:
    """Owns the SNMP event-loop thread and engine; all request methods are coroutines on it."""

    def __init__(self, max_concurrency: int = 50) -> None:
        self._max_concurrency = max_concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._engine: hlapi.SnmpEngine | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._transports: dict[tuple[str, int, float, int], hlapi.UdpTransportTarget] = {}
        #: Number of request PDUs sent since start (retries not counted), for metrics and benchmarks.
        self.requests_sent = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SnmpClient:
        """Start the loop thread and build the engine on it. Returns self for chaining."""
        if self._loop is not None:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="snmp-loop", daemon=True)
        self._thread.start()
        self.run(self._create_engine(), timeout=30)
        logger.info("SNMP client started max_concurrency=%d", self._max_concurrency)
        return self

    async def _create_engine(self) -> None:
        self._engine = hlapi.SnmpEngine()
        self._semaphore = asyncio.Semaphore(self._max_concurrency)

    def close(self) -> None:
        """Close the engine's dispatcher, stop the loop thread and release the socket."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self.run(self._shutdown(), timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()
            self._loop = self._thread = None
            logger.info("SNMP client stopped")

    async def _shutdown(self) -> None:
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None
        current = asyncio.current_task()
        leftovers = [task for task in asyncio.all_tasks() if task is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    def __enter__(self) -> SnmpClient:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the SNMP loop from any other thread."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("SnmpClient is not started; call start() or use it as a context manager.")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the SNMP loop and wait for its result (``timeout`` in seconds)."""
        return self.submit(coro).result(timeout)

    # -- requests ----------------------------------------------------------------------------

    async def get(self, target: SnmpTarget, names: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        """GET ``names``; objects the printer lacks are left out of the result.

        SNMPv1 fails a whole PDU with noSuchName on the first missing object, so that object is
        dropped and the rest asked again.
        """
        result: dict[Oid, SnmpValue] = {}
        names = list(dict.fromkeys(names))
        for start in range(0, len(names), MAX_VARBINDS_PER_REQUEST):
            pending = names[start : start + MAX_VARBINDS_PER_REQUEST]
            while pending:
                status, index, var_binds = await self._request("get", target, pending)
                if status == _NO_SUCH_NAME and 0 < index <= len(pending):
                    del pending[index - 1]
                    continue
                self._raise_for_status(target, "GET", status, index, pending)
                for name, value in var_binds:
                    native = to_native(value)
                    if native is not None:
                        result[tuple(name)] = native
                break
        return result

    async def walk(
        self, target: SnmpTarget, roots: Sequence[Oid], max_rows: int = 5000,
        max_varbinds: int = MAX_VARBINDS_PER_REQUEST,
    ) -> dict[Oid, SnmpValue]:
        """Walk the subtrees under ``roots`` in parallel, each stopping at the end of its subtree.

        GETBULK for v2c/v3 and GETNEXT for v1. A walk stops on a non-increasing OID, after
        ``max_rows`` values per root, or after :data:`MAX_WALK_REQUESTS` requests. One GETBULK asks
        for about ``max_varbinds`` values, split evenly over the roots still being walked.
        """
        result: dict[Oid, SnmpValue] = {}
        cursors: dict[Oid, Oid] = {root: root for root in dict.fromkeys(roots)}
        rows_per_root: dict[Oid, int] = dict.fromkeys(cursors, 0)
        budget = max(1, max_varbinds)
        for _ in range(MAX_WALK_REQUESTS):
            if not cursors:
                return result
            active = list(cursors)
            repetitions = max(1, budget // len(active))
            status, index, var_binds = await self._request(
                "next" if target.auth.version == "1" else "bulk", target, [cursors[root] for root in active], repetitions
            )
            if status == _TOO_BIG and budget > len(active):
                budget = max(len(active), budget // 2)
                continue
            if status == _NO_SUCH_NAME and target.auth.version == "1":
                # SNMPv1 reports the end of the MIB as noSuchName on that varbind.
                cursors.pop(active[index - 1] if 0 < index <= len(active) else active[0])
                continue
            self._raise_for_status(target, "GETBULK", status, index, active)

            finished = set() if var_binds else set(active)
            for position, (name, value) in enumerate(var_binds):
                root = active[position % len(active)]
                name = tuple(name)
                if root in finished:
                    continue
                if isinstance(value, rfc1905.EndOfMibView) or name[: len(root)] != root or name <= cursors[root]:
                    finished.add(root)
                    continue
                native = to_native(value)
                if native is not None:
                    result[name] = native
                cursors[root] = name
                rows_per_root[root] += 1
                if rows_per_root[root] >= max_rows:
                    finished.add(root)
            for root in finished:
                cursors.pop(root, None)
        raise SnmpProtocolError(
            f"Walk of printer {target} did not finish within {MAX_WALK_REQUESTS} requests; "
            "the agent may return OIDs in a loop."
        )

    async def set(self, target: SnmpTarget, values: Sequence[tuple[Oid, SnmpValue | str]]) -> None:
        """SET ``values`` and confirm by reading them back.

        Raises SnmpWriteRejected when the printer returns an error status, returns a noSuch*
        value for a varbind (snmpsim does that with errorStatus 0), or reads back a different
        value.
        """
        status, index, var_binds = await self._request("set", target, [name for name, _ in values], values=values)
        if status:
            name = dotted(values[index - 1][0]) if 0 < index <= len(values) else "?"
            raise SnmpWriteRejected(f"SET on printer {target} failed with {_status_name(status)} at oid={name}.")
        for name, value in var_binds:
            if to_native(value) is None:
                raise SnmpWriteRejected(f"SET on printer {target} was not applied: oid={dotted(tuple(name))} is not writable there.")

        read_back = await self.get(target, [name for name, _ in values])
        for name, value in values:
            if isinstance(value, str):
                expected: Any = value.encode("utf-8")
            elif isinstance(value, base.Asn1Item):
                expected = to_native(value)
            else:
                expected = value
            if read_back.get(name) != expected:
                raise SnmpWriteRejected(
                    f"SET on printer {target} did not stick: oid={dotted(name)} reads back "
                    f"{read_back.get(name)!r} instead of {expected!r}."
                )
        logger.info("SET confirmed printer=%s oids=%s", target, ",".join(dotted(name) for name, _ in values))

    async def set_identity(
        self, target: SnmpTarget, *, sys_name: str | None = None, sys_location: str | None = None,
        sys_contact: str | None = None,
    ) -> None:
        """SET sysName, sysLocation and/or sysContact in one PDU and confirm by reading back."""
        values = [
            (name, value)
            for name, value in ((OID_SYS_NAME, sys_name), (OID_SYS_LOCATION, sys_location), (OID_SYS_CONTACT, sys_contact))
            if value is not None
        ]
        if not values:
            raise ValueError("set_identity needs at least one of sys_name, sys_location, sys_contact.")
        await self.set(target, values)

    async def reset_printer(self, target: SnmpTarget, printer_index: int, mode: int = POWER_CYCLE_RESET) -> str:
        """Write prtGeneralReset (4 power cycle, 5 reset to NVRAM, 6 factory defaults).

        Returns ``"confirmed"`` when the read-back shows the written value or notResetting(3),
        and ``"no_answer"`` when the printer stops answering because it is already restarting.
        """
        if mode not in RESET_MODES:
            raise ValueError(f"Invalid prtGeneralReset value {mode}: use one of {sorted(RESET_MODES)}.")
        name = OID_PRT_GENERAL_RESET + (printer_index,)
        status, index, var_binds = await self._request("set", target, [name], values=[(name, mode)])
        if status or any(to_native(value) is None for _, value in var_binds):
            raise SnmpWriteRejected(f"Printer {target} refused prtGeneralReset={mode} ({_status_name(status)}).")
        try:
            read_back = await self.get(target, [name])
        except SnmpTimeout:
            logger.info("Reset sent printer=%s mode=%d; no answer afterwards, printer is restarting", target, mode)
            return "no_answer"
        if read_back.get(name) not in (mode, NOT_RESETTING):
            raise SnmpWriteRejected(f"prtGeneralReset on printer {target} reads back {read_back.get(name)!r}.")
        logger.info("Reset confirmed printer=%s mode=%d", target, mode)
        return "confirmed"

    async def _request(
        self, kind: str, target: SnmpTarget, names: Sequence[Oid], repetitions: int = 0,
        values: Sequence[tuple[Oid, SnmpValue | str]] = (),
    ) -> tuple[int, int, list[tuple[Any, Any]]]:
        """Send one PDU and return (errorStatus, errorIndex, varbinds); raise on transport errors."""
        engine, semaphore = self._engine, self._semaphore
        if engine is None or semaphore is None:
            raise RuntimeError("SnmpClient is not started; call start() or use it as a context manager.")
        if values:
            var_binds = [hlapi.ObjectType(hlapi.ObjectIdentity(name), to_pysnmp(value)) for name, value in values]
        else:
            var_binds = [hlapi.ObjectType(hlapi.ObjectIdentity(name)) for name in names]
        async with semaphore:
            try:
                transport = await self._transport(target)
                auth, context = _auth_data(target)
                logger.debug("SNMP %s printer=%s varbinds=%d", kind, target, len(var_binds))
                self.requests_sent += 1
                if kind == "bulk":
                    response = await hlapi.bulk_cmd(engine, auth, transport, context, 0, repetitions, *var_binds, lookupMib=False)
                else:
                    command = {"get": hlapi.get_cmd, "next": hlapi.next_cmd, "set": hlapi.set_cmd}[kind]
                    response = await command(engine, auth, transport, context, *var_binds, lookupMib=False)
            except OSError as err:
                raise SnmpUnreachable(f"Printer {target} is unreachable: {err}") from err
            except PySnmpError as err:
                raise SnmpProtocolError(f"SNMP {kind} to printer {target} failed: {err}") from err
        error_indication, error_status, error_index, response_binds = response
        if error_indication:
            raise _indication_error(target, error_indication) from error_indication
        return int(error_status), int(error_index), list(response_binds)

    async def _transport(self, target: SnmpTarget) -> hlapi.UdpTransportTarget:
        key = (target.host, target.port, target.timeout, target.retries)
        transport = self._transports.get(key)
        if transport is None:
            transport = await hlapi.UdpTransportTarget.create(
                (target.host, target.port), timeout=target.timeout, retries=target.retries
            )
            self._transports[key] = transport
        return transport

    @staticmethod
    def _raise_for_status(target: SnmpTarget, operation: str, status: int, index: int, names: Sequence[Oid]) -> None:
        if not status:
            return
        name = dotted(names[index - 1]) if 0 < index <= len(names) else "?"
        message = f"{operation} on printer {target} failed with {_status_name(status)} at oid={name}."
        if status in _AUTH_ERROR_STATUSES:
            raise SnmpAuthFailed(message)
        raise SnmpProtocolError(message)


def _auth_data(target: SnmpTarget) -> tuple[Any, hlapi.ContextData]:
    auth = target.auth
    if isinstance(auth, CommunityAuth):
        return hlapi.CommunityData(auth.community, mpModel=0 if auth.version == "1" else 1), hlapi.ContextData()
    usm = hlapi.UsmUserData(
        auth.user, auth.auth_key, auth.priv_key,
        authProtocol=AUTH_PROTOCOLS[auth.auth_protocol], privProtocol=PRIV_PROTOCOLS[auth.priv_protocol],
    )
    return usm, hlapi.ContextData(contextName=auth.context_name)


def _indication_error(target: SnmpTarget, indication: Exception) -> SnmpError:
    if isinstance(indication, errind.RequestTimedOut):
        return SnmpTimeout(
            f"Printer {target} did not answer within {target.timeout:g} s x {target.retries + 1} attempts "
            "(offline, wrong community, or SNMP disabled)."
        )
    if isinstance(indication, _AUTH_INDICATIONS):
        return SnmpAuthFailed(f"Printer {target} rejected the SNMP credentials: {indication}.")
    return SnmpProtocolError(f"SNMP exchange with printer {target} failed: {indication}.")


def _status_name(status: int) -> str:
    try:
        return str(rfc1905.errorStatus.getNamedValues().getName(status))
    except (KeyError, AttributeError):
        return f"errorStatus {status}"
