"""Configuration: limits on the work one question may cause, and the service's settings.

Two typed models, each field declared once with its type, bounds, default and meaning: ``Limits``
(``TUTOR_LIMIT_<NAME>``) and ``Settings`` (``TUTOR_<NAME>``, with the limits inside). Constructing
either reads nothing but its arguments, so the engine and the tests get the defaults they name;
``from_env()`` reads the environment through pydantic-settings, so the same code runs in tests, under
``make run`` and in the container without config files. ``tutor settings`` prints the values in
force, and ``reference_table`` the README's tables of variables (a test keeps them equal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(ValueError):
    """A TUTOR_* environment variable that cannot be read: its message names it and says why."""


# Both models: immutable (shared between threads and copied into worker processes), no unknown
# fields (a misspelt keyword is an error, not a silently ignored setting), defaults checked too.
_MODEL = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class Limits(BaseModel):
    """Bounds checked before any symbolic work, and the hard limits of a worker process."""

    model_config = _MODEL

    max_expression_length: int = Field(4000, ge=1, description="characters of an expression")
    max_nodes: int = Field(1000, ge=1, description="syntax-tree nodes")
    max_depth: int = Field(24, ge=1, description="nesting levels")
    max_symbols: int = Field(128, ge=1, description="names, parameters and data together")
    max_exponent: float = Field(64, gt=0, description="a constant exponent (folded exponents: its square)")
    max_constant: float = Field(1e9, gt=0, description="any number or constant sub-expression")
    max_name_length: int = Field(32, ge=1, description="characters of a variable's name")
    max_steps: int = Field(1000, ge=1, description="steps per trial")
    min_learning_rate: float = Field(1e-12, gt=0, description="the smallest learning rate asked for")
    max_learning_rate: float = Field(1e6, gt=0, description="the largest learning rate asked for")
    max_abs_value: float = Field(1e9, gt=0, description="size of a starting value or a data value")
    max_data_rows: int = Field(1000, ge=1, description="rows of a data table")
    # What the server process saves and sends per answer: 200,000 numbers are about 0.2 s of saving
    # on the reference machine, during which other answers wait for the database's write turn.
    max_recorded_numbers: int = Field(
        200_000,
        ge=1,
        description="numbers an answer records over all its trials (steps × parameters × about 3 "
        "per trial, 6 for the sequential one): what its case stores and sends",
    )
    # Kept well inside seconds_per_question, so that the clock stops only what the estimate misjudged.
    max_work_seconds: float = Field(
        3.0,
        gt=0,
        description="seconds of work a question may ask for, estimated from its size before it runs "
        "(engine/cost.py, on the reference machine)",
    )
    seconds_per_question: float = Field(
        10.0,
        gt=0,
        description="seconds an analysis worker may take before it is killed and the question refused",
    )
    worker_memory_mb: int = Field(2048, ge=1, description="address space of an analysis worker, MiB")

    @classmethod
    def from_env(cls) -> Limits:
        """The limits that ``TUTOR_LIMIT_<NAME>`` variables set."""
        return _from_env(_LimitsFromEnv, cls)


def default_instance_path() -> Path:
    return Path.cwd() / "instance"


def sqlite_url(instance_path: Path) -> str:
    return f"sqlite:///{Path(instance_path).resolve() / 'tutor.sqlite3'}"


class Settings(BaseModel):
    """The service's settings, read once at start-up."""

    model_config = _MODEL

    database_url: str = Field(
        "",  # filled from instance_path when empty (see _database_in_instance_path)
        description="SQLAlchemy URL; PostgreSQL: `postgresql+psycopg://user:password@host:5432/dbname`",
        json_schema_extra={"shown": "`sqlite:///<instance>/tutor.sqlite3`"},
    )
    instance_path: Path = Field(
        default_factory=default_instance_path,
        description="folder of the default SQLite file and of the web app's instance files (created on first use)",
        json_schema_extra={"shown": "`./instance`"},
    )
    secret_key: str | None = Field(
        None,
        description="session and CSRF signing key; unset: one kept in the database, shared by every instance",
        json_schema_extra={"secret": True},
    )
    admin_token: str | None = Field(
        None, description="admin bearer token and reviewer sign-in", json_schema_extra={"secret": True}
    )
    public_url: str = Field("http://127.0.0.1:8000", description="base of case links in answers and replies")
    workers: int = Field(
        2, ge=1, description="server processes of `tutor serve` (each answers 8 requests at once)"
    )
    analysis_workers: int = Field(
        2,
        ge=1,
        description="analysis processes per server (and worker) process; one is kept for small questions",
    )
    analysis_queue: int = Field(
        4,
        ge=0,
        description="questions that may wait for an analysis worker in a server process, small and large apart",
    )
    analysis_queue_per_client: int = Field(
        2,
        ge=1,
        description="questions one client (token or address) may have waiting or running in a server process",
    )
    rate_limit_storage_url: str | None = Field(
        None,
        description="where rate-limit counters live: `memory://` or `redis://…`; unset: this process's memory, "
        "or Redis at 127.0.0.1:6379 under `tutor serve` with more than one worker process (see Rate limits)",
    )
    rate_limit_key_prefix: str = Field("tutor", description="prefix of the counters' keys in Redis")
    rate_limit: str = Field("60 per minute", description="requests per token and per client address")
    proxies: int = Field(
        0,
        ge=0,
        description="reverse proxies in front whose `X-Forwarded-*` headers are believed (1 behind nginx)",
    )
    max_request_bytes: int = Field(
        64 * 1024, ge=1024, description="largest API request body, bytes (the webhook allows 1 MiB)"
    )
    # See tutor.persistence.database for how each is applied on PostgreSQL and on SQLite.
    database_connect_timeout: float = Field(
        5.0, ge=0.1, description="seconds to open a database connection (PostgreSQL counts at least 2)"
    )
    database_statement_timeout: float = Field(
        15.0, ge=0.1, description="seconds one statement may run on PostgreSQL; a round trip may take 2 more"
    )
    database_lock_timeout: float = Field(
        10.0,
        ge=0.1,
        description="seconds to wait for a lock: PostgreSQL's `lock_timeout`, SQLite's busy timeout and writers' turn",
    )
    database_pool_timeout: float = Field(
        5.0, ge=0.1, description="seconds to wait for a free pooled connection"
    )
    discourse_url: str | None = Field(None, description="the forum's base URL; unset: no forum replies")
    discourse_api_key: str | None = Field(
        None, description="API key the replies are posted with", json_schema_extra={"secret": True}
    )
    discourse_username: str = Field(
        "tutorbot", description="the forum user the tutor posts as and answers mentions of"
    )
    discourse_secret: str | None = Field(
        None,
        description="the webhook's secret; unset: the webhook answers 404",
        json_schema_extra={"secret": True},
    )
    discourse_math: Literal["off", "on"] = Field(
        "off",
        description="`off`: replies write formulas as Unicode in code spans (every forum reads it); "
        "`on`: as `$$` blocks, for a forum with Discourse's math plugin (`discourse_math_enabled`)",
    )
    job_lease_seconds: float = Field(
        120.0,
        gt=0,
        description="how long a worker's claim on a reply or a plot lasts before another may take it over",
    )
    worker_poll_seconds: float = Field(
        1.0, gt=0, description="how often an idle `tutor worker` looks for work, seconds"
    )
    limits: Limits = Field(default_factory=Limits, description="see `TUTOR_LIMIT_<NAME>`")

    @field_validator("public_url")
    @classmethod
    def _public_url_without_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("discourse_url")
    @classmethod
    def _discourse_url_without_trailing_slash(cls, value: str | None) -> str | None:
        return (value or "").rstrip("/") or None

    @field_validator("instance_path")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @field_validator("discourse_math", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _database_in_instance_path(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("database_url"):
            data = {**data, "database_url": sqlite_url(data.get("instance_path") or default_instance_path())}
        return data

    @classmethod
    def from_env(cls) -> Settings:
        """The settings that ``TUTOR_*`` variables set."""
        return _from_env(_SettingsFromEnv, cls, limits=Limits.from_env())

    def with_changes(self, **changes: object) -> Settings:
        """A copy with ``changes``, checked as the settings themselves are."""
        return type(self).model_validate({**dict(self), **changes})


# The environment-reading twins: the same fields, filled by pydantic-settings from TUTOR_* variables.
# An empty variable counts as unset (a compose file's `TUTOR_DISCOURSE_URL=` means "no forum").
_ENVIRONMENT = SettingsConfigDict(frozen=True, extra="ignore", env_ignore_empty=True, case_sensitive=False)


class _LimitsFromEnv(BaseSettings, Limits):
    model_config = {**_ENVIRONMENT, "env_prefix": "TUTOR_LIMIT_"}


class _SettingsFromEnv(BaseSettings, Settings):
    model_config = {**_ENVIRONMENT, "env_prefix": "TUTOR_"}


def _from_env(reader: type[BaseSettings], model: type[BaseModel], **given: object) -> Any:
    try:
        values = reader(**given)
    except ValidationError as error:
        raise ConfigError(_one_line(error, reader.model_config["env_prefix"])) from None
    # The plain model, not its environment-reading twin: copies and comparisons read nothing more.
    return model.model_validate(dict(values))


_EXPECTED = {
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_parsing": "true or false",
}


def _one_line(error: ValidationError, prefix: str) -> str:
    """pydantic's report of the first bad value, as one line that names the variable."""
    first = error.errors()[0]
    name = f"{prefix}{'_'.join(str(part) for part in first['loc'])}".upper()
    raw, context, kind = first.get("input"), first.get("ctx", {}), first["type"]
    if kind in _EXPECTED:
        rule = _EXPECTED[kind]
    elif kind == "greater_than_equal":
        rule = f"at least {context['ge']:g}"
    elif kind == "greater_than":
        rule = f"more than {context['gt']:g}"
    elif kind == "literal_error":
        rule = context["expected"].replace("'", "")
    else:
        rule = first["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
    return f"{name} must be {rule}, not '{raw}'"


# --- what `tutor settings` prints, and the README's tables -------------------------------------------


def variable_name(name: str, model: type[BaseModel] = Settings) -> str:
    return f"TUTOR_LIMIT_{name.upper()}" if model is Limits else f"TUTOR_{name.upper()}"


def variables() -> dict[str, tuple[type[BaseModel], str]]:
    """Every TUTOR_* variable the tutor reads: its model and field, in the models' order."""
    fields = [(Settings, name) for name in Settings.model_fields if name != "limits"]
    return {
        variable_name(name, model): (model, name)
        for model, name in fields + [(Limits, n) for n in Limits.model_fields]
    }


def _extra(info: FieldInfo, key: str) -> object:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return extra.get(key)


def _number(value: float) -> str:
    """As the README writes numbers: 1e9, not 1e+09."""
    return f"{value:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _shown_default(info: FieldInfo) -> str:
    shown = _extra(info, "shown")
    if shown is not None:
        return str(shown)
    default = info.get_default(call_default_factory=True)
    if default is None:
        return "unset"
    return f"`{_number(default) if isinstance(default, float) else default}`"


def reference_table(model: type[BaseModel]) -> str:
    """The Markdown table of ``model``'s variables: name, default, meaning (README: Configuration)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, info in model.model_fields.items():
        if model is Settings and name == "limits":
            rows.append(
                "| `TUTOR_LIMIT_<NAME>` | see the table of limits | limits on the work of one question |"
            )
            continue
        rows.append(f"| `{variable_name(name, model)}` | {_shown_default(info)} | {info.description} |")
    return "\n".join(rows) + "\n"


def in_force(settings: Settings) -> list[tuple[str, str, bool]]:
    """Each variable, the value in force (secrets and passwords hidden) and whether it is not the default."""
    from sqlalchemy.engine import make_url  # only here: the engine imports this module, never SQLAlchemy

    rows = []
    in_use = {Settings: settings, Limits: settings.limits}
    defaults = {Settings: Settings(), Limits: Limits()}
    for variable, (model, name) in variables().items():
        value = getattr(in_use[model], name)
        if value is None:
            shown = "unset"
        elif _extra(model.model_fields[name], "secret"):
            shown = "(set)"
        elif name == "database_url":
            shown = make_url(value).render_as_string(hide_password=True)
        else:
            shown = _number(value) if isinstance(value, float) else str(value)
        rows.append((variable, shown, value != getattr(defaults[model], name)))
    return rows
