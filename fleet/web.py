"""Flask glue shared by the API, the protocol endpoints and the dashboards."""

from __future__ import annotations

import logging
from typing import Any

from apiflask import APIFlask, HTTPError
from flask import current_app, request
from werkzeug.exceptions import HTTPException

from fleet.errors import FleetError
from fleet.services import Services

log = logging.getLogger(__name__)

EXTENSION_KEY = "printfleet"


def services() -> Services:
    """Return the service container of the current app."""
    container = current_app.extensions[EXTENSION_KEY]
    assert isinstance(container, Services)
    return container


def base_url() -> str:
    """Public base URL printers and customers should use, without a trailing slash."""
    configured = services().settings.base_url
    return configured or request.host_url.rstrip("/")


def error_body(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The one JSON error shape: ``{"error": {"status", "code", "message", ...}}``."""
    return {"error": {"status": status, "code": code, "message": message, **extra}}


def _validation_fields(detail: Any) -> list[dict[str, str]]:
    fields: list[dict[str, str]] = []
    if not isinstance(detail, dict):
        return fields
    for location, errors in detail.items():
        if not isinstance(errors, dict):
            continue
        for name, reasons in errors.items():
            for reason in reasons if isinstance(reasons, list) else [reasons]:
                fields.append({"field": str(name), "location": str(location), "reason": str(reason)})
    return fields


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "state_conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_input",
          429: "rate_limited", 500: "internal_error"}


def install_error_handlers(app: APIFlask) -> None:
    @app.error_processor
    def _http_error(error: HTTPError) -> tuple[dict[str, Any], int, Any]:
        status = error.status_code
        code = _CODES.get(status, "error")
        message = error.message or "Request failed"
        extra: dict[str, Any] = {}
        if status == 422:
            extra["fields"] = _validation_fields(error.detail)
            names = ", ".join(field["field"] for field in extra["fields"]) or "the body"
            message = f"Invalid input in {names}; see fields for each reason"
        if status == 413:
            limit = services().settings.max_body_bytes
            message = f"Request body is larger than {limit} bytes; send a smaller body"
        if status == 400 and request.mimetype == "application/json":
            message = "Request body is not valid JSON; send a JSON object with Content-Type application/json"
        return error_body(status, code, message, **extra), status, error.headers

    @app.errorhandler(FleetError)
    def _fleet_error(error: FleetError) -> tuple[dict[str, Any], int]:
        return error_body(error.status, error.code, error.message, **error.extra), error.status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        if isinstance(error, HTTPException):
            return error
        log.exception("unhandled error method=%s path=%s", request.method, request.path)
        return error_body(500, "internal_error", "Internal error; it was logged"), 500
