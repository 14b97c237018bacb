"""Device settings carried to CloudPRNT printers as client actions (``SetID`` and the like).

The settings twin hands a push to :func:`apply_client_action_settings`, which queues the client
action for the printer; the next poll answers with it (and with nothing else, because a printer runs
client actions before jobs). The setting is confirmed when the printer shows it took effect: for
``SetID`` the ``uniqueID`` it sends from then on, or its answer to the action. Until then the action
is sent again on every poll, which is safe because these actions only store a value.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from fleet import settings_twin
from fleet.remote import PushOutcome, SettingPush, get_registry
from fleet.services import Services

log = logging.getLogger(__name__)

EXTRA_KEY = "cloudprnt_pending_actions"


@dataclass(frozen=True)
class PendingAction:
    #: CloudPRNT client action, e.g. ``SetID``.
    request: str
    #: Twin setting it carries, e.g. ``server_id``.
    setting: str
    value: Any


class PendingActions:
    """Client actions waiting for their printer's next poll, by printer id.

    NOTE: kept per process; with several server processes the action reaches the printer only when it
    polls the process that took the settings change.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._actions: dict[int, dict[str, PendingAction]] = {}

    def add(self, printer_id: int, action: PendingAction) -> None:
        with self._lock:
            self._actions.setdefault(printer_id, {})[action.request] = action

    def has(self, printer_id: int) -> bool:
        with self._lock:
            return printer_id in self._actions

    def for_printer(self, printer_id: int) -> list[PendingAction]:
        with self._lock:
            return list(self._actions.get(printer_id, {}).values())

    def remove(self, printer_id: int, request: str) -> None:
        with self._lock:
            actions = self._actions.get(printer_id, {})
            actions.pop(request, None)
            if not actions:
                self._actions.pop(printer_id, None)


def pending_actions(services: Services) -> PendingActions:
    return services.extras.setdefault(EXTRA_KEY, PendingActions())  # type: ignore[no-any-return]


def install(services: Services) -> None:
    """Register the client-action applier for this app's settings twin."""
    store = pending_actions(services)

    def apply_client_action_settings(push: SettingPush) -> PushOutcome:
        for name, value in push.values.items():
            request = push.specs[name].client_action or ""
            if not request:
                return PushOutcome("failed", message=f"setting {name} names no CloudPRNT client action")
            store.add(push.printer.id, PendingAction(request, name, value))
            log.info("client action queued printer=%s request=%s setting=%s", push.printer.id, request, name)
        return PushOutcome("pending", message="sent with the printer's next poll; confirmed when it reports the value")

    get_registry(services).register_setting_applier("cloudprnt_client_action", apply_client_action_settings)


def poll_actions(services: Services, printer_id: int) -> list[dict[str, str]]:
    """Client actions to send in the answer to this poll."""
    return [{"request": action.request, "options": str(action.value)}
            for action in pending_actions(services).for_printer(printer_id)]


def _took_effect(action: PendingAction, body: dict[str, Any]) -> bool:
    if action.request == "SetID" and str(body.get("uniqueID") or "") == str(action.value):
        return True
    answers = body.get("clientAction") if isinstance(body.get("clientAction"), list) else []
    return any(isinstance(entry, dict) and entry.get("request") == action.request
               and str(entry.get("result", entry.get("response"))) == str(action.value) for entry in answers)


def confirm_from_poll(services: Services, printer_id: int, body: dict[str, Any]) -> None:
    """Record every queued action the poll ``body`` shows to be in effect."""
    store = pending_actions(services)
    for action in store.for_printer(printer_id):
        if not _took_effect(action, body):
            continue
        with services.db.session() as session:
            settings_twin.record_reported(session, printer_id, {action.setting: action.value}, "cloudprnt")
        store.remove(printer_id, action.request)
        log.info("client action confirmed printer=%s request=%s setting=%s", printer_id, action.request,
                 action.setting)
