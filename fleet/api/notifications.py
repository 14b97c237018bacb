"""Notification endpoints: account settings, per-order channels, the delivery log, delay notices,
template previews, and the on-page messages of the customer's order page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from fleet import orders
from fleet.api import api, auth, current_account
from fleet.models import Account, Order, utcnow
from fleet.notifications import preferences
from fleet.notifications.context import account_settings
from fleet.notifications.outbox import enqueue_delay
from fleet.web import services

ChannelName = Literal["email", "sms", "webhook", "onpage"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NotificationSettingsIn(_Strict):
    channels: list[ChannelName] | None = Field(default=None, description="Customer channels used by default")
    phone_country_code: str | None = Field(default=None, pattern=r"^[1-9]\d{0,2}$",
                                           description="Calling code for numbers written without one, e.g. 49")
    operator_phone: str | None = Field(default=None, max_length=40, description="Gets SMS operator alerts")


class NotificationSettingsOut(BaseModel):
    channels: list[str]
    phone_country_code: str | None
    operator_phone: str | None
    webhook_secret: str | None
    email: dict[str, Any]
    sms: dict[str, Any]


class ChannelsIn(_Strict):
    channels: list[ChannelName]


class ChannelsOut(BaseModel):
    order_id: int
    channels: list[str]


class DeliveryOut(BaseModel):
    id: int
    channel: str
    event: str
    recipient: str = Field(description="Masked: z***@example.org, +49******67, https://host/***")
    state: str
    attempts: int
    last_error: str | None
    created_at: str | None
    sent_at: str | None
    next_attempt_at: str | None


class DelayIn(_Strict):
    eta_minutes: StrictInt | None = Field(default=None, ge=0, le=24 * 60, description="New estimated time, if known")


class DelayOut(BaseModel):
    order_id: int
    messages: int


class PreviewQuery(_Strict):
    locale: str | None = Field(default=None, max_length=16)
    channel: Literal["email", "sms", "onpage", "note"] = "email"


class PreviewOut(BaseModel):
    event: str
    locale: str
    channel: str
    subject: str | None
    text: str
    html: str | None


class OnPageOut(BaseModel):
    id: int
    event: str
    text: str
    at: str | None


@api.get("/notification-settings")
@api.auth_required(auth)
@api.output(NotificationSettingsOut)
@api.doc(summary="Show the account's notification settings; secrets are masked", responses=[401])
def get_settings() -> dict[str, Any]:
    account = current_account()
    container = services()
    with container.db.session() as session:
        return preferences.settings_view(account_settings(session, account.id), account.webhook_secret,
                                         container.settings)


@api.put("/notification-settings")
@api.auth_required(auth)
@api.input(NotificationSettingsIn, arg_name="body")
@api.output(NotificationSettingsOut)
@api.doc(summary="Change the account's default channels and operator phone",
         description="Estimated times are shown in the account's time zone (PATCH /api/v1/account).",
         responses=[401, 422])
def put_settings(body: NotificationSettingsIn) -> dict[str, Any]:
    account = current_account()
    container = services()
    with container.db.session() as session:
        row = preferences.update_settings(session, account.id, body.model_dump(exclude_unset=True))
        return preferences.settings_view(row, account.webhook_secret, container.settings)


@api.put("/orders/<int:order_id>/notification-channels")
@api.auth_required(auth)
@api.input(ChannelsIn, arg_name="body")
@api.output(ChannelsOut)
@api.doc(summary="Choose the customer channels of one order", responses=[401, 404, 422])
def put_order_channels(order_id: int, body: ChannelsIn) -> dict[str, Any]:
    account = current_account()
    with services().db.session() as session:
        order = orders.get_order(session, account.id, order_id)
        return {"order_id": order.id, "channels": preferences.set_order_channels(session, order, list(body.channels))}


@api.get("/orders/<int:order_id>/notifications")
@api.auth_required(auth)
@api.output(list[DeliveryOut])
@api.doc(summary="Delivery log of an order: channel, masked recipient, state, attempts, last error",
         responses=[401, 404])
def list_deliveries(order_id: int) -> list[dict[str, Any]]:
    account = current_account()
    with services().read_db.session() as session:
        order = orders.get_order(session, account.id, order_id)
        return preferences.delivery_log(session, order.id)


@api.post("/orders/<int:order_id>/delay")
@api.auth_required(auth)
@api.input(DelayIn, arg_name="body")
@api.output(DelayOut, status_code=202)
@api.doc(summary="Tell the customer the order is delayed, optionally with a new estimated time", responses=[401, 404])
def delay_order(order_id: int, body: DelayIn) -> tuple[dict[str, Any], int]:
    account = current_account()
    with services().db.session() as session:
        order = orders.get_order(session, account.id, order_id)
        owner = session.get(Account, account.id)
        assert owner is not None
        eta = utcnow() + timedelta(minutes=body.eta_minutes) if body.eta_minutes is not None else None
        if eta is not None and order.status == "accepted":
            order.eta_at = eta
        count = enqueue_delay(session, order, owner, eta)
        return {"order_id": order.id, "messages": count}, 202


@api.get("/notification-templates/<event>/preview")
@api.auth_required(auth)
@api.input(PreviewQuery, location="query", arg_name="query")
@api.output(PreviewOut)
@api.doc(summary="Render a message template for a sample order",
         description="Events: accepted, rejected, cancelled, delayed, expired, failed, operator_orders_waiting. "
                     "Locales: en, de, fr (others fall back to English).", responses=[401, 422])
def preview_template(event: str, query: PreviewQuery) -> dict[str, Any]:
    account = current_account()
    return preferences.preview(event, query.locale or account.locale, query.channel, account.name, account.timezone)


@api.get("/status/<public_id>/notifications")
@api.output(list[OnPageOut])
@api.doc(summary="On-page messages of an order, for its status page (no API key; the public id is the secret)",
         responses=[404])
def public_onpage(public_id: str) -> list[dict[str, Any]]:
    with services().read_db.session() as session:
        order: Order = orders.get_order_by_public_id(session, public_id)
        return preferences.onpage_messages(session, order.id)
