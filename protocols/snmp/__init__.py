"""SNMP layer: poll printers' health over Printer-MIB and HOST-RESOURCES-MIB with pysnmp 7.

Modules: :mod:`oids` (numeric OIDs), :mod:`enums` (MIB value names), :mod:`health` (dataclasses),
:mod:`decode` (pure decoding), :mod:`conditions` (fleet conditions and JSON detail),
:mod:`client` (asyncio client on one loop thread), :mod:`poller` (poll plan and per-printer state)
and :mod:`cli` (``snmp probe`` and ``snmp serve-recording``).
"""
