"""Order and job states, and the transitions each allows."""

from __future__ import annotations

from enum import StrEnum


class OrderState(StrEnum):
    PENDING = "pending"
    PRINTING = "printing"
    PRINTED = "printed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class JobState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    FETCHED = "fetched"
    #: Fetched, but no confirmation arrived within the confirmation timeout. Never re-sent on its own;
    #: a late confirmation still completes it, and a person decides on a reprint.
    UNCONFIRMED = "unconfirmed"
    PRINTED = "printed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


ORDER_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.PENDING: frozenset(
        {OrderState.PRINTING, OrderState.PRINTED, OrderState.REJECTED, OrderState.ACCEPTED,
         OrderState.EXPIRED, OrderState.CANCELLED, OrderState.FAILED}
    ),
    OrderState.PRINTING: frozenset(
        {OrderState.PRINTED, OrderState.ACCEPTED, OrderState.REJECTED, OrderState.FAILED, OrderState.CANCELLED}
    ),
    OrderState.PRINTED: frozenset({OrderState.ACCEPTED, OrderState.REJECTED, OrderState.CANCELLED}),
    OrderState.ACCEPTED: frozenset({OrderState.CANCELLED}),
    OrderState.REJECTED: frozenset(),
    OrderState.FAILED: frozenset({OrderState.PENDING, OrderState.CANCELLED, OrderState.REJECTED}),
    OrderState.EXPIRED: frozenset({OrderState.PENDING, OrderState.CANCELLED}),
    OrderState.CANCELLED: frozenset(),
}

#: API actions and the order states each may start from.
ORDER_ACTIONS: dict[str, frozenset[OrderState]] = {
    "accept": frozenset({OrderState.PENDING, OrderState.PRINTING, OrderState.PRINTED}),
    "reject": frozenset({OrderState.PENDING, OrderState.PRINTING, OrderState.PRINTED, OrderState.FAILED}),
    "cancel": frozenset({OrderState.PENDING, OrderState.PRINTING, OrderState.PRINTED, OrderState.ACCEPTED,
                         OrderState.FAILED, OrderState.EXPIRED}),
    "reprint": frozenset({OrderState.PRINTING, OrderState.PRINTED, OrderState.ACCEPTED, OrderState.REJECTED,
                          OrderState.FAILED, OrderState.EXPIRED}),
}

#: Jobs still waiting to reach the printer; these may be offered.
WAITING_JOB_STATES = frozenset({JobState.QUEUED, JobState.OFFERED})
#: Jobs the printer holds and may still confirm.
HELD_JOB_STATES = frozenset({JobState.FETCHED, JobState.UNCONFIRMED})
OPEN_JOB_STATES = WAITING_JOB_STATES | HELD_JOB_STATES


def allowed_actions(state: OrderState) -> list[str]:
    """Return the API actions an order in ``state`` accepts, sorted by name."""
    return sorted(action for action, states in ORDER_ACTIONS.items() if state in states)
