"""Receipts: one document model built from an order, and encoders for each printer type.

``build_order_receipt`` and ``build_test_receipt`` make a :class:`Document`. The
encoders turn it into what a printer consumes: ``encode_text`` for Star
``text/plain`` jobs, ``encode_png`` for Star ``image/png`` jobs and the dashboard
preview, ``encode_escpos`` for LAN ESC/POS printers, and ``encode_epos_xml`` with
``wrap_print_request`` for Epson Server Direct Print.

Import them from their modules (``fleet.receipts.builder``,
``fleet.receipts.encode_text``, ...). The package re-exports nothing, because
functions such as ``encode_text`` share their module's name and would hide it.
"""
