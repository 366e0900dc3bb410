"""Configuration: limits on the work one question may cause, and the service's settings.

Everything comes from the environment (``TUTOR_*``) so the same code runs in tests, under
``make run`` and in the container without config files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


class ConfigError(ValueError):
    """A TUTOR_* environment variable that cannot be read: its message names it and says why."""


def _read(env, name: str, kind: type, default: object, minimum: float | None = None) -> object:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        expected = "a whole number" if kind is int else "a number" if kind is float else kind.__name__
        raise ConfigError(f"{name} must be {expected}, not '{raw}'") from None
    if minimum is not None and not value >= minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, not '{raw}'")
    return value


def _choice(env, name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be {' or '.join(allowed)}, not '{raw}'")
    return value


@dataclass(frozen=True)
class Limits:
    """Bounds checked before any symbolic work, and the hard limits of a worker process."""

    max_expression_length: int = 4000
    max_nodes: int = 1000
    max_depth: int = 24
    max_symbols: int = 128
    max_exponent: float = 64
    max_constant: float = 1e9
    max_name_length: int = 32
    max_steps: int = 1000
    min_learning_rate: float = 1e-12
    max_learning_rate: float = 1e6
    max_abs_value: float = 1e9
    max_data_rows: int = 1000
    # The work a question may ask for, estimated from its size before it runs (engine/cost.py), in
    # seconds on the reference machine: kept well inside the time limit below.
    max_work_seconds: float = 3.0
    # A worker that runs longer or grows larger than this is killed and the question refused.
    seconds_per_question: float = 10.0
    worker_memory_mb: int = 2048

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Limits:
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            # The annotation, not the default's type: max_exponent is a float whose default is 64.
            kind = {"int": int, "float": float}[f.type]
            values[f.name] = _read(env, f"TUTOR_LIMIT_{f.name.upper()}", kind, getattr(cls, f.name))
        return cls(**values)


def default_instance_path() -> Path:
    return Path(os.environ.get("TUTOR_INSTANCE_PATH", Path.cwd() / "instance")).resolve()


def default_database_url() -> str:
    return f"sqlite:///{default_instance_path() / 'tutor.sqlite3'}"


# The shortest database timeout, in seconds, a setting may ask for.
MIN_TIMEOUT = 0.1


@dataclass(frozen=True)
class Settings:
    """The service's settings, read once at start-up."""

    database_url: str = field(default_factory=default_database_url)
    secret_key: str | None = None
    admin_token: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    workers: int = 2
    # Per server process: analysis processes, questions that may wait for one (all clients together),
    # and questions one client may have waiting or running at once (see tutor.sandbox).
    analysis_workers: int = 2
    analysis_queue: int = 4
    analysis_queue_per_client: int = 2
    # None: counters in this process's memory, except under `tutor serve` with more than one worker
    # process, which shares them in Redis (tutor.cli.serve.SHARED_RATE_LIMIT_STORAGE).
    rate_limit_storage_url: str | None = None
    rate_limit_key_prefix: str = "tutor"
    rate_limit: str = "60 per minute"
    # Reverse proxies in front of the service (nginx: 1) whose X-Forwarded-* headers are believed.
    proxies: int = 0
    max_request_bytes: int = 64 * 1024
    # Seconds (see tutor.persistence.database): connecting, one statement or round trip to the server,
    # waiting for a lock, waiting for a free connection of the pool.
    database_connect_timeout: float = 5.0
    database_statement_timeout: float = 15.0
    database_lock_timeout: float = 10.0
    database_pool_timeout: float = 5.0
    discourse_url: str | None = None
    discourse_api_key: str | None = None
    discourse_username: str = "tutorbot"
    discourse_secret: str | None = None
    # How replies write formulas: "off" Unicode and code only (every forum reads it); "on" $$ blocks,
    # for a forum with Discourse's math plugin enabled (site setting discourse_math_enabled).
    discourse_math: str = "off"
    # `tutor worker`: how long a claimed job (a forum reply, a plot) is its own before another worker
    # may take it over, and how often an idle worker looks for work.
    job_lease_seconds: float = 120.0
    worker_poll_seconds: float = 1.0
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if self.proxies < 0:
            raise ConfigError(f"TUTOR_PROXIES must be 0 or more, not {self.proxies}")
        for name in ("job_lease_seconds", "worker_poll_seconds"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"TUTOR_{name.upper()} must be more than 0, not {getattr(self, name)}")

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=env.get("TUTOR_DATABASE_URL") or default_database_url(),
            secret_key=env.get("TUTOR_SECRET_KEY"),
            admin_token=env.get("TUTOR_ADMIN_TOKEN"),
            public_url=env.get("TUTOR_PUBLIC_URL", cls.public_url).rstrip("/"),
            workers=_read(env, "TUTOR_WORKERS", int, cls.workers),
            analysis_workers=_read(env, "TUTOR_ANALYSIS_WORKERS", int, cls.analysis_workers, 1),
            analysis_queue=_read(env, "TUTOR_ANALYSIS_QUEUE", int, cls.analysis_queue, 0),
            analysis_queue_per_client=_read(
                env, "TUTOR_ANALYSIS_QUEUE_PER_CLIENT", int, cls.analysis_queue_per_client, 1
            ),
            rate_limit_storage_url=env.get("TUTOR_RATE_LIMIT_STORAGE_URL") or None,
            rate_limit_key_prefix=env.get("TUTOR_RATE_LIMIT_KEY_PREFIX", cls.rate_limit_key_prefix),
            rate_limit=env.get("TUTOR_RATE_LIMIT", cls.rate_limit),
            proxies=_read(env, "TUTOR_PROXIES", int, cls.proxies),
            max_request_bytes=_read(env, "TUTOR_MAX_REQUEST_BYTES", int, cls.max_request_bytes),
            database_connect_timeout=_read(
                env, "TUTOR_DATABASE_CONNECT_TIMEOUT", float, cls.database_connect_timeout, MIN_TIMEOUT
            ),
            database_statement_timeout=_read(
                env, "TUTOR_DATABASE_STATEMENT_TIMEOUT", float, cls.database_statement_timeout, MIN_TIMEOUT
            ),
            database_lock_timeout=_read(
                env, "TUTOR_DATABASE_LOCK_TIMEOUT", float, cls.database_lock_timeout, MIN_TIMEOUT
            ),
            database_pool_timeout=_read(
                env, "TUTOR_DATABASE_POOL_TIMEOUT", float, cls.database_pool_timeout, MIN_TIMEOUT
            ),
            discourse_url=(env.get("TUTOR_DISCOURSE_URL") or "").rstrip("/") or None,
            discourse_api_key=env.get("TUTOR_DISCOURSE_API_KEY"),
            discourse_username=env.get("TUTOR_DISCOURSE_USERNAME", cls.discourse_username),
            discourse_secret=env.get("TUTOR_DISCOURSE_SECRET"),
            discourse_math=_choice(env, "TUTOR_DISCOURSE_MATH", ("off", "on"), cls.discourse_math),
            job_lease_seconds=_read(env, "TUTOR_JOB_LEASE_SECONDS", float, cls.job_lease_seconds),
            worker_poll_seconds=_read(env, "TUTOR_WORKER_POLL_SECONDS", float, cls.worker_poll_seconds),
            limits=Limits.from_env(env),
        )
