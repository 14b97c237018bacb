"""The edge agent that drives LAN ESC/POS printers for printfleet (``printfleet-agent``)."""
