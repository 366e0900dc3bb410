"""Alembic's entry point: runs the migrations against the URL that tutor.persistence.migrate passes.

Run from the alembic command line (developers, with the repository's alembic.ini) the URL comes
from the ini's ``sqlalchemy.url`` or else from TUTOR_DATABASE_URL, like the service.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tutor.config import Settings
from tutor.persistence.database import MIGRATION_TIMEOUTS, make_engine
from tutor.persistence.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    return (
        config.attributes.get("database_url")
        or config.get_main_option("sqlalchemy.url")
        or Settings.from_env().database_url
    )


def render_item(kind: str, obj, autogen_context):
    # Migrations must not import the models (they change; old migrations must not): render the
    # column type the database sees.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: autogenerate writes batch operations, which copy the
        # table on SQLite and become plain ALTERs elsewhere.
        render_as_batch=True,
        compare_type=True,
        compare_server_default=True,
        render_item=render_item,
        **kwargs,
    )


def run_offline() -> None:
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    # SQLite does roll back DDL; Alembic assumes it does not, so a failed migration would be left
    # half done. With transactional DDL each upgrade runs in one transaction there too.
    configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Foreign keys are off while migrating (see make_engine); check them before commit.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the migration left rows with broken foreign keys: {broken[:5]}")


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    # No statement or lock timeouts: a migration may rightly take long.
    engine = make_engine(database_url(), foreign_keys=False, timeouts=MIGRATION_TIMEOUTS)
    try:
        with engine.connect() as connection:
            run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
