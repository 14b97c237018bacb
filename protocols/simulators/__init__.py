"""Printer simulators that speak each wire protocol for real against a running printfleet server.

Used by ``printfleet demo``, the test suite and the benchmarks. Run one by hand with
``python -m protocols.simulators --protocol cloudprnt --url ... --mac ...``.
"""

from protocols.simulators.base import PrintedJob, SimulatedPrinter
from protocols.simulators.cloudprnt import CloudPrntSimulator
from protocols.simulators.epson_sdp import EpsonSdpSimulator
from protocols.simulators.escpos_network import EscposJob, EscposNetworkPrinter
from protocols.simulators.goodcom import GoodcomOrder, GoodcomSimulator

__all__ = [
    "CloudPrntSimulator",
    "EpsonSdpSimulator",
    "EscposJob",
    "EscposNetworkPrinter",
    "GoodcomOrder",
    "GoodcomSimulator",
    "PrintedJob",
    "SimulatedPrinter",
]
