from pathlib import Path

import pytest

from fleet.config import ConfigError, load_settings


def test_load_settings_defaults_to_sqlite_and_development() -> None:
    settings = load_settings(environ={})
    assert settings.database_url == "sqlite:///printfleet.db"
    assert settings.env == "development"
    assert settings.port == 8080


def test_load_settings_reads_prefixed_environment() -> None:
    settings = load_settings(environ={"PRINTFLEET_PORT": "9090", "PRINTFLEET_SMTP_STARTTLS": "true",
                                      "PRINTFLEET_DATABASE_URL": "postgresql://pf@db/pf", "OTHER": "x"})
    assert settings.port == 9090
    assert settings.smtp_starttls is True
    assert settings.database_url == "postgresql+psycopg://pf@db/pf"


def test_load_settings_names_key_value_and_range() -> None:
    with pytest.raises(ConfigError, match=r"PRINTFLEET_PORT='99999' is invalid \(Input should be less than or equal to 65535\)"):
        load_settings(environ={"PRINTFLEET_PORT": "99999"})


def test_load_settings_lists_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"PRINTFLEET_LOG_LEVEL='LOUD' is invalid \(allowed values: 'DEBUG', 'INFO', 'WARNING' or 'ERROR'\)"):
        load_settings(environ={"PRINTFLEET_LOG_LEVEL": "LOUD"})


def test_load_settings_rejects_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'databse_url'; known settings: PRINTFLEET_ENV"):
        load_settings(environ={"PRINTFLEET_DATABSE_URL": "sqlite:///x.db"})


def test_load_settings_rejects_bad_database_url() -> None:
    with pytest.raises(ConfigError, match=r"PRINTFLEET_DATABASE_URL='mysql://x' is invalid .*use sqlite:///PATH"):
        load_settings(environ={"PRINTFLEET_DATABASE_URL": "mysql://x"})


def test_load_settings_production_requires_secret_key() -> None:
    with pytest.raises(ConfigError, match="PRINTFLEET_SECRET_KEY is missing"):
        load_settings(environ={"PRINTFLEET_ENV": "production"})
    assert load_settings(environ={"PRINTFLEET_ENV": "production", "PRINTFLEET_SECRET_KEY": "s" * 40}).secret_key


def test_load_settings_toml_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "printfleet.toml"
    config.write_text('[printfleet]\nport = 7000\nsmtp_host = "mail.example.org"\n')
    settings = load_settings(environ={"PRINTFLEET_CONFIG": str(config), "PRINTFLEET_PORT": "7001"})
    assert settings.port == 7001
    assert settings.smtp_host == "mail.example.org"


def test_load_settings_toml_error_names_file(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("port = = 1")
    with pytest.raises(ConfigError, match="broken.toml is not valid TOML"):
        load_settings(environ={}, config_file=config)
    with pytest.raises(ConfigError, match="config file .*broken2.toml: PRINTFLEET_PORT='x'"):
        other = tmp_path / "broken2.toml"
        other.write_text('port = "x"')
        load_settings(environ={}, config_file=other)


def test_load_settings_ignores_tool_variables() -> None:
    """The CLI's own variables (API URL and key, SNMP credentials, agent options) are not settings."""
    settings = load_settings(environ={"PRINTFLEET_API_KEY": "pf_x_y", "PRINTFLEET_API_URL": "http://h",
                                      "PRINTFLEET_SNMP_COMMUNITY": "c", "PRINTFLEET_AGENT_STATE": "/tmp/s",
                                      "PRINTFLEET_TEST_DATABASE_URL": "postgresql://x"})
    assert settings.port == 8080
