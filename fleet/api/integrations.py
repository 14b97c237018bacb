"""Shop integration endpoints: WooCommerce stores and PrinterCo-style API credentials."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from fleet.api import api, auth, current_account
from fleet.integrations import printerco, woocommerce
from fleet.models import Account
from fleet.web import base_url, services

WooStatus = Literal["pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed",
                    "ready-for-pickup", ""]


class WooShopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    base_url: str = Field(min_length=8, max_length=2048, description="Store root, e.g. https://shop.example.com")
    consumer_key: str = Field(min_length=1, max_length=128, description="REST API key (ck_...) with write access")
    consumer_secret: str = Field(min_length=1, max_length=128, description="REST API secret (cs_...)")
    webhook_secret: str = Field(min_length=1, max_length=256, description="Secret of the WooCommerce webhook")
    printer_id: StrictInt
    ready_statuses: list[WooStatus] | None = Field(default=None, description="Statuses that make an order printable")
    accept_status: WooStatus | None = Field(default=None, description="Status written back on accept; '' keeps it")
    reject_status: WooStatus | None = Field(default=None, description="Status written back on reject; '' keeps it")
    query_string_auth: StrictBool | None = None
    locale: str | None = Field(default=None, max_length=16)


class WooShopOut(BaseModel):
    id: int
    name: str
    base_url: str
    printer_id: int
    delivery_url: str = Field(description="Enter as the webhook Delivery URL in WooCommerce")
    consumer_key: str | None
    consumer_secret: str | None
    webhook_secret: str | None
    ready_statuses: list[str]
    accept_status: str
    reject_status: str
    query_string_auth: bool
    locale: str | None
    created_at: str | None
    reconciled_at: str | None = Field(
        description="The reconciliation poll has read every ready order modified before this time")


class CredentialOut(BaseModel):
    id: int
    api_key: str
    api_password: str = Field(description="In clear only in the response that creates it")
    created_at: str | None
    revoked_at: str | None


@api.post("/integrations/woocommerce/shops")
@api.auth_required(auth)
@api.input(WooShopIn, arg_name="body")
@api.output(WooShopOut, status_code=201)
@api.doc(summary="Connect a WooCommerce store to a printer", responses=[401, 404, 422])
def create_woocommerce_shop(body: WooShopIn) -> dict[str, Any]:
    with services().db.session() as session:
        owner = session.get(Account, current_account().id)
        assert owner is not None
        shop = woocommerce.create_shop(session, owner, body.model_dump())
        return woocommerce.shop_view(shop, base_url())


@api.get("/integrations/woocommerce/shops")
@api.auth_required(auth)
@api.output(list[WooShopOut])
@api.doc(summary="List the connected WooCommerce stores; secrets are masked", responses=[401])
def list_woocommerce_shops() -> list[dict[str, Any]]:
    with services().read_db.session() as session:
        return [woocommerce.shop_view(shop, base_url()) for shop in woocommerce.list_shops(session, current_account().id)]


@api.get("/integrations/woocommerce/shops/<int:shop_id>")
@api.auth_required(auth)
@api.output(WooShopOut)
@api.doc(summary="Show a connected WooCommerce store; secrets are masked", responses=[401, 404])
def get_woocommerce_shop(shop_id: int) -> dict[str, Any]:
    with services().read_db.session() as session:
        return woocommerce.shop_view(woocommerce.get_shop(session, current_account().id, shop_id), base_url())


@api.post("/integrations/printerco/credentials")
@api.auth_required(auth)
@api.output(CredentialOut, status_code=201)
@api.doc(summary="Issue an api_key and api_password for PrinterCo-style clients (submitorderext)",
         description="The password appears only in this response.", responses=[401])
def create_printerco_credential() -> dict[str, Any]:
    with services().db.session() as session:
        owner = session.get(Account, current_account().id)
        assert owner is not None
        row, password = printerco.create_credential(session, owner)
        return printerco.credential_view(row, password)
