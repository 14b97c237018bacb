"""The dashboard and customer blueprints, their error pages and template helpers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiflask import APIBlueprint
from flask import Blueprint, render_template
from werkzeug.exceptions import HTTPException

from dashboards.security import check_csrf, csrf_token, load_viewer
from fleet.errors import FleetError

#: Operator and support pages under ``/dashboard``; they need a login. An APIBlueprint kept out of
#: the OpenAPI document, because APIFlask inspects the before_request hooks of every blueprint.
bp = APIBlueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates",
                  static_folder="static", static_url_path="/static", enable_openapi=False)
#: The customer's order status page at ``/o/<public id>``; no login.
customer_bp = Blueprint("customer", __name__, template_folder="templates")

bp.before_request(check_csrf)


@bp.app_template_global()
def dashboard_csrf_token() -> str:
    return csrf_token()


@bp.app_template_filter("when")
def format_when(value: datetime | str | None) -> str:
    """Format a UTC time as ``2026-12-04 18:30 UTC``; an empty string for None."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M UTC")


@bp.context_processor
def _inject_viewer() -> dict[str, Any]:
    return {"viewer": load_viewer()}


def _error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("dashboard/error.html", status=status, title=title, message=message,
                           viewer=load_viewer()), status


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    return _error_page(error.code or 500, error.name, error.description or "")


@bp.errorhandler(FleetError)
def _fleet_error(error: FleetError) -> tuple[str, int]:
    return _error_page(error.status, "Request failed", error.message)


@customer_bp.errorhandler(FleetError)
def _customer_not_found(error: FleetError) -> tuple[str, int]:
    return render_template("customer/not_found.html"), error.status
