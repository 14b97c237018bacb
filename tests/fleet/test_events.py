"""The in-process event bus: which handlers receive which events."""

from __future__ import annotations

import pytest

from fleet.events import Event, EventBus, matches


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("mqtt.command", "mqtt.command", True),
    ("mqtt.command", "mqtt.command_acked", False),
    ("job.queued", "job.queued", True),
    ("printer.", "printer.health", True),
    ("printer.", "printers.health", False),
    ("printer", "printer.health", False),
    ("", "anything.at_all", True),
])
def test_pattern_matches_name_or_family(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


def test_bus_delivers_only_matching_events() -> None:
    bus = EventBus()
    received: dict[str, list[str]] = {"command": [], "printer": [], "all": []}
    bus.subscribe("mqtt.command", lambda event: received["command"].append(event.name))
    bus.subscribe("printer.", lambda event: received["printer"].append(event.name))
    bus.subscribe("", lambda event: received["all"].append(event.name))

    for name in ("mqtt.command", "mqtt.command_acked", "printer.health", "job.queued"):
        bus.publish(Event(name, 1, {}))

    assert received["command"] == ["mqtt.command"]
    assert received["printer"] == ["printer.health"]
    assert received["all"] == ["mqtt.command", "mqtt.command_acked", "printer.health", "job.queued"]
