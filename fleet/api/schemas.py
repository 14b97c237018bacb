"""Request and response models of the REST API (pydantic; they also feed the OpenAPI document)."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator
from typing_extensions import Annotated


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("time has no UTC offset; send ISO 8601 with an offset, e.g. 2026-12-04T18:30:00+01:00")
    return value


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("notify_url must be an absolute http:// or https:// URL")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    quantity: StrictInt = Field(ge=1, le=10_000)
    unit_price: Money
    notes: str | None = Field(default=None, max_length=500)


class CustomerIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=40)


class OrderIn(Strict):
    printer_id: StrictInt
    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    items: list[ItemIn] = Field(min_length=1, max_length=500)
    customer: CustomerIn
    order_type: Literal["delivery", "collection", "dine_in", "reservation"] | None = None
    requested_time: AwareDatetime | None = None
    notes: str | None = Field(default=None, max_length=2000)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")
    total: Money
    notify_url: Annotated[str | None, AfterValidator(_http_url)] = Field(default=None, max_length=2048)
    locale: str | None = Field(default=None, max_length=16)
    expires_in_minutes: StrictInt | None = Field(default=None, ge=1, le=7 * 24 * 60)


class AcceptIn(Strict):
    eta_minutes: StrictInt | None = Field(default=None, ge=0, le=24 * 60)
    eta_time: AwareDatetime | None = None


class RejectIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


class EmptyIn(Strict):
    pass


class OrderQuery(Strict):
    status: Literal["pending", "printing", "printed", "accepted", "rejected", "failed", "expired", "cancelled"] | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class PrinterSettingsIn(Strict):
    copies: StrictInt | None = Field(default=None, ge=1, le=9)
    cut: Literal["full", "partial", "none"] | None = None
    buzzer: StrictBool | None = None
    header: str | None = Field(default=None, max_length=2000)
    footer: str | None = Field(default=None, max_length=2000)
    require_decision: StrictBool | None = None
    cloudprnt_mqtt: Literal["off", "trigger", "full"] | None = None
    emulation: Literal["star", "escpos"] | None = Field(
        default=None, description="escpos: offer ESC/POS bytes first to a CloudPRNT printer in ESC/POS emulation")
    sdp_digest_auth: StrictBool | None = None
    sdp_devid: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,30}$")


_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _snmp_host(value: str) -> str:
    """Accept an IPv4/IPv6 literal or an RFC 1123 host name."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if len(value) > 253 or not all(_HOSTNAME_LABEL.match(label) for label in labels):
        raise ValueError(f"host {value!r} is invalid; use an IP address such as 192.0.2.10 or a host name")
    return value


class SnmpV3In(Strict):
    user: str = Field(min_length=1, max_length=64)
    auth_protocol: Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"] = "SHA"
    auth_key: str = Field(min_length=8, max_length=128, description="At least 8 characters (RFC 3414)")
    priv_protocol: Literal["DES", "3DES", "AES", "AES128", "AES192", "AES256"] = "AES"
    priv_key: str = Field(min_length=8, max_length=128, description="At least 8 characters (RFC 3414)")
    context_name: str = Field(default="", max_length=64)


class SnmpIn(Strict):
    host: Annotated[str, AfterValidator(_snmp_host)] = Field(min_length=1, max_length=253)
    port: StrictInt = Field(default=161, ge=1, le=65535)
    version: Literal["1", "2c", "3"] = "2c"
    community: str | None = Field(default=None, min_length=1, max_length=128, description="v1/v2c; never returned")
    v3: SnmpV3In | None = Field(default=None, description="v3 authPriv user; keys are never returned")
    poll_interval_seconds: StrictInt = Field(default=60, ge=2, le=86400)
    full_walk_interval_seconds: StrictInt = Field(default=900, ge=30, le=86400)
    supply_low_percent: float = Field(default=10.0, ge=0, le=100)

    @model_validator(mode="after")
    def _credentials_match_version(self) -> SnmpIn:
        if self.version == "3" and self.v3 is None:
            raise ValueError("version 3 needs a v3 object with user, auth_key and priv_key")
        if self.version != "3" and self.community is None:
            raise ValueError(f"version {self.version} needs a community")
        if self.version != "3" and self.v3 is not None:
            raise ValueError(f"v3 credentials were sent with version {self.version}; set version to 3 or drop v3")
        return self


class PrinterIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    protocol: Literal["cloudprnt", "goodcom", "epson_sdp", "snmp", "device_mqtt"]
    mac: str | None = Field(default=None, max_length=32, description="Required for cloudprnt")
    settings: PrinterSettingsIn | None = None
    snmp: SnmpIn | None = Field(default=None, description="Required for snmp: where and how to poll the printer")


class PrinterPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    settings: PrinterSettingsIn | None = None


class PageQuery(Strict):
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class HealthOut(BaseModel):
    online: bool
    state: str
    conditions: list[str]
    status_code: str | None
    last_seen_at: str | None
    poll_interval_seconds: int | None
    detail: dict[str, Any]


class PrinterOut(BaseModel):
    id: int
    name: str
    protocol: str
    mac: str | None
    settings: dict[str, Any]
    client_info: dict[str, Any]
    health: HealthOut
    device: dict[str, Any] = Field(description="What to configure on the printer")
    created_at: str


class JobOut(BaseModel):
    id: int
    printer_id: int
    kind: str
    state: str
    copies: int
    media_type: str | None
    result_code: str | None
    fetch_count: int
    created_at: str
    fetched_at: str | None
    finished_at: str | None


class HistoryOut(BaseModel):
    at: str
    event: str
    from_status: str | None
    to_status: str | None
    source: str
    job_id: int | None
    detail: dict[str, Any]


class OrderOut(BaseModel):
    id: int
    external_id: str | None
    status: str
    printer_id: int
    items: list[dict[str, Any]]
    customer: dict[str, Any]
    order_type: str | None
    requested_time: str | None
    notes: str | None
    currency: str
    total: str
    notify_url: str | None
    eta: str | None
    reject_reason: str | None
    decided_by: str | None
    created_at: str
    updated_at: str
    expires_at: str
    status_url: str
    allowed_actions: list[str]
    jobs: list[JobOut] | None = None
    history: list[HistoryOut] | None = None
