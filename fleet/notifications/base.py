"""The channel interface every notification goes through, and the error that asks for a retry.

    DeliveryFailed              the receiver did not take the message; the outbox retries it
    └── (permanent=True)        retrying cannot help (invalid number, rejected credentials); marked dead at once
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


class DeliveryFailed(Exception):
    """The receiver did not take the message; the outbox retries it later unless ``permanent``."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class OutboundMessage:
    """One outbox message as a channel sees it, detached from the database session."""

    id: int
    account_id: int | None
    order_id: int | None
    channel: str
    event: str
    #: Email address, E.164 phone number, URL or order public id, depending on the channel.
    recipient: str
    payload: dict[str, Any]
    #: The account's webhook signing key; excluded from ``repr`` so it never reaches a log line.
    webhook_secret: str = field(default="", repr=False)


class Channel(ABC):
    """A way to reach a person or a system. ``send`` returns when the receiver took the message."""

    #: Name stored in ``outbox.channel``.
    name: str

    @abstractmethod
    def send(self, message: OutboundMessage) -> None:
        """Deliver ``message`` once; raise :class:`DeliveryFailed` when the receiver did not take it."""
