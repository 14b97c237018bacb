"""The integration tests share the notification tests' module-scoped databases and peers."""

from tests.fleet.notifications.conftest import module_smtp  # noqa: F401 (fixtures)
