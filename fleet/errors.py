"""Errors raised by fleet services; the API turns each into one JSON shape.

    FleetError                 400  base class, carries a machine-readable ``code``
    ├── NotFound               404  the id does not exist in the caller's account
    ├── InvalidInput           422  a field value is wrong; ``field`` names it
    ├── IdempotencyMismatch    422  an Idempotency-Key was reused with another body
    └── StateConflict          409  the action does not fit the current state
"""

from __future__ import annotations

from typing import Any


class FleetError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


class NotFound(FleetError):
    status = 404
    code = "not_found"


class InvalidInput(FleetError):
    status = 422
    code = "invalid_input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, fields=[{"field": field, "reason": message}])
        self.field = field


class IdempotencyMismatch(FleetError):
    status = 422
    code = "idempotency_key_reused"


class StateConflict(FleetError):
    status = 409
    code = "state_conflict"

    def __init__(self, message: str, current_state: str, allowed_actions: list[str]) -> None:
        super().__init__(message, current_state=current_state, allowed_actions=allowed_actions)
        self.current_state = current_state
        self.allowed_actions = allowed_actions


class StartupError(RuntimeError):
    """A component could not start (a port in use, a broker unreachable); the message names the fix."""
