"""Service configuration from ``PRINTFLEET_*`` environment variables and an optional TOML file.

Precedence, lowest first: built-in defaults, the TOML file (``PRINTFLEET_CONFIG`` or ``--config``),
environment variables, explicit overrides (tests and the CLI). Every value is validated once at start-up;
a bad value raises :class:`ConfigError` naming the key, the value and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

ENV_PREFIX = "PRINTFLEET_"


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the key and the fix."""


class Settings(BaseModel):
    """Validated service settings. Field names are the env keys without the prefix, lowercased."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite:///printfleet.db"
    secret_key: str | None = None
    #: Public base URL printers use to reach this service, e.g. ``https://print.example.com``.
    #: When unset, URLs are derived from the request (or from host and port on the CLI).
    base_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    #: Minutes an order may wait for its printer before it expires and is no longer offered.
    order_ttl_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    #: Seconds after a job fetch without confirmation before the job becomes ``unconfirmed``.
    confirm_timeout_seconds: int = Field(default=120, ge=5, le=24 * 3600)
    #: Seconds between CloudPRNT client-action rounds (ClientType, Encodings, PageInfo, ...).
    client_info_interval_seconds: int = Field(default=3600, ge=10)
    #: Poll interval assumed for a printer until it reports its own, in seconds.
    default_poll_interval_seconds: int = Field(default=5, ge=1, le=3600)
    #: REST API requests per second allowed per API key (or per address without one); more get 429.
    api_rate_per_second: float = Field(default=20.0, gt=0)
    #: Requests an API caller may send at once before the per-second rate applies.
    api_rate_burst: int = Field(default=100, ge=1)
    #: Largest request body accepted, in bytes; larger bodies get 413.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    #: Secret: never logged; ``repr`` and API responses show it masked.
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_from: str = "printfleet@localhost"
    #: Delivery attempts per outbox message before it is marked dead.
    outbox_max_attempts: int = Field(default=10, ge=1, le=100)
    #: Seconds before the first retry; doubles per attempt up to ``outbox_max_backoff_seconds``.
    outbox_base_backoff_seconds: float = Field(default=2.0, gt=0)
    outbox_max_backoff_seconds: float = Field(default=600.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)

    #: SMS provider for customer and operator texts: ``twilio`` (or a gateway with its API shape).
    sms_provider: Literal["twilio"] | None = None
    #: Gateway base URL; the Twilio API path ``/2010-04-01/Accounts/{sid}/Messages.json`` is appended.
    sms_base_url: str = "https://api.twilio.com"
    sms_account_sid: str | None = None
    #: Secret: never logged; ``repr`` and API responses show it masked.
    sms_auth_token: SecretStr | None = None
    #: Sender: an E.164 number or an alphanumeric sender ID.
    sms_from: str | None = None
    #: Timeout of one request to a shop (WooCommerce REST, PrinterCo notify_url) or the SMS gateway, in seconds.
    integration_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Minutes an order waits on an offline printer before operators and customers hear about it.
    waiting_alert_minutes: int = Field(default=5, ge=1, le=24 * 60)
    #: Minutes between reconciliation polls of each WooCommerce shop's orders; 0 turns the poll off.
    woocommerce_reconcile_minutes: int = Field(default=5, ge=0, le=24 * 60)

    #: Run the APScheduler jobs (offline sweep, expiry, unconfirmed jobs) in this process.
    scheduler_enabled: bool = True
    #: Run the outbox delivery thread in this process.
    outbox_worker_enabled: bool = True

    #: Minutes without a request after which a dashboard login expires.
    dashboard_session_idle_minutes: int = Field(default=480, ge=5, le=30 * 24 * 60)
    #: Socket.IO message queue shared by several processes, e.g. ``redis://localhost:6379/0``.
    socketio_message_queue: str | None = None

    #: Run MQTT (embedded broker or bridge to ``mqtt_url``) in this process. Unset means on, except
    #: when ``env`` is ``test``, so tests start a broker only when they ask for one.
    mqtt_enabled: bool | None = None
    #: External broker, e.g. ``mqtt://user:password@broker.example.com:1883``. When set, no broker is
    #: embedded and the server's MQTT client logs in there.
    mqtt_url: str | None = None
    #: Address the embedded broker listens on; printers must be able to reach it.
    mqtt_host: str = "127.0.0.1"
    #: TCP port of the embedded broker (1884, because a system Mosquitto usually holds 1883).
    mqtt_port: int = Field(default=1884, ge=1, le=65535)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("mqtt://", "tcp://")):
            raise ValueError("use mqtt://[USER:PASSWORD@]HOST[:PORT]")
        return value

    @property
    def mqtt_active(self) -> bool:
        """True when this process runs MQTT: ``mqtt_enabled``, or by default outside tests."""
        return self.mqtt_enabled if self.mqtt_enabled is not None else self.env != "test"

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("use an absolute http:// or https:// URL")
        return value.rstrip("/")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"Configuration file {path} does not exist; fix the path or unset PRINTFLEET_CONFIG.") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"Configuration file {path} is not valid TOML: {err}.") from None
    section = data.get("printfleet", data)
    if not isinstance(section, dict):
        raise ConfigError(f"Configuration file {path}: [printfleet] must be a table.")
    return {str(key).lower(): value for key, value in section.items()}


#: Variables of the command-line tools and the test suite, which share the prefix but are not settings.
TOOL_VARIABLES = frozenset({"config", "api_url", "api_key"})
TOOL_PREFIXES = ("test_", "snmp_", "agent_")


def _read_env(environ: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key.removeprefix(ENV_PREFIX).lower()
        if name in TOOL_VARIABLES or name.startswith(TOOL_PREFIXES):
            continue
        values[name] = value
    return values


def _describe(error: Mapping[str, Any], source: Mapping[str, str]) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "?"
    origin = source.get(key, "default")
    if error["type"] == "extra_forbidden":
        known = ", ".join(ENV_PREFIX + name.upper() for name in Settings.model_fields)
        return f"{origin}: unknown setting {key!r}; known settings: {known}"
    allowed = error["msg"]
    if error["type"] == "literal_error":
        allowed = "allowed values: " + error["ctx"]["expected"]
    return f"{origin}: {ENV_PREFIX}{key.upper()}={error.get('input')!r} is invalid ({allowed})"


def _check_sms(settings: Settings) -> None:
    if settings.sms_provider is None:
        return
    missing = [name for name in ("sms_account_sid", "sms_auth_token", "sms_from") if not getattr(settings, name)]
    if missing:
        names = ", ".join(ENV_PREFIX + name.upper() for name in missing)
        raise ConfigError(f"PRINTFLEET_SMS_PROVIDER={settings.sms_provider} needs {names}; set them or unset the provider.")


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build validated settings from defaults, TOML file, environment and overrides.

    Raises :class:`ConfigError` listing every invalid key with its value and what is allowed, and
    when ``env`` is not ``development`` or ``test`` and no secret key is configured.
    """
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get(ENV_PREFIX + "CONFIG")

    merged: dict[str, Any] = {}
    source: dict[str, str] = {}
    if config_file:
        for key, value in _read_toml(Path(config_file)).items():
            merged[key] = value
            source[key] = f"config file {config_file}"
    for key, value in _read_env(environ).items():
        merged[key] = value
        source[key] = f"environment {ENV_PREFIX}{key.upper()}"
    for key, value in (overrides or {}).items():
        merged[key] = value
        source[key] = "override"

    try:
        settings = Settings.model_validate(merged)
    except ValidationError as err:
        lines = [_describe(error, source) for error in err.errors()]
        raise ConfigError("Invalid configuration:\n  " + "\n  ".join(lines)) from None

    _check_sms(settings)
    if settings.env == "production" and not settings.secret_key:
        raise ConfigError(
            "PRINTFLEET_SECRET_KEY is missing; production refuses to start without it. "
            "Set it to a long random string, e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return settings
