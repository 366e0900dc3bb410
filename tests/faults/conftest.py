"""The fault suite: each test causes a fault this machine can cause (a killed worker, a database that
refuses, hangs or is read-only, hostile bytes) and shows the right answer to it, nothing acknowledged
lost or half-written, and normal answers afterwards without a restart. The database fixtures are the
integration suite's: SQLite, and PostgreSQL (required in CI)."""

from integration.conftest import database_url, empty_database_url  # noqa: F401 (fixtures)
