"""The production topology of deploy/compose.yaml on one machine, without Docker (`make prod`):
Debian's nginx in front of N `tutor serve` instances on their own ports, `tutor worker`s, the local
PostgreSQL and Redis.

    .venv/bin/python deploy/local_topology.py [--port 8080] [--instances 2] [--workers 1] ...

Everything it starts (nginx with its own prefix, config, pid and logs under the run folder; each
instance and worker in its own process group) is stopped by its own pid when it exits (Ctrl-C or
SIGTERM). tests/topology/ drives the same class, `Topology`, on free ports and a fresh PostgreSQL schema.
It runs the tutor through its command line, like an operator would.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
TEMPLATE = DEPLOY / "nginx" / "tutor.conf.template"
TUTOR = [sys.executable, "-c", "from tutor.cli import main; main()"]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tutor"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
START_SECONDS = 90
STOP_SECONDS = 40

NGINX_MAIN = """# Written by deploy/local_topology.py: nginx for this run only, everything under {root}.
{user}worker_processes 2;
daemon off;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    default_type application/octet-stream;
    access_log {root}/nginx-access.log;
    client_body_temp_path {root}/nginx-tmp/body;
    proxy_temp_path {root}/nginx-tmp/proxy;
    fastcgi_temp_path {root}/nginx-tmp/fastcgi;
    uwsgi_temp_path {root}/nginx-tmp/uwsgi;
    scgi_temp_path {root}/nginx-tmp/scgi;
    include {root}/tutor.conf;
}}
"""


def render_site(listen: str, upstreams: list[str]) -> str:
    """deploy/nginx/tutor.conf.template with its two placeholders filled, as envsubst fills them."""
    servers = " ".join(f"server {address} max_fails=1 fail_timeout=10s;" for address in upstreams)
    # safe_substitute: nginx's own $variables are not ours and stay.
    return string.Template(TEMPLATE.read_text()).safe_substitute(
        TUTOR_LISTEN=listen, TUTOR_UPSTREAM_SERVERS=servers
    )


def write_nginx_config(root: Path, site: str) -> Path:
    """nginx's configuration for a run under ``root`` with ``site`` (a rendered template), checked with
    ``nginx -t``; its path."""
    (root / "nginx-tmp").mkdir(parents=True, exist_ok=True)
    (root / "tutor.conf").write_text(site)
    # As root, nginx's workers would run as "nobody" and could not use the run folder.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    config = root / "nginx.conf"
    config.write_text(NGINX_MAIN.format(root=root, user=user))
    checked = subprocess.run(
        [NGINX, "-t", "-q", "-p", str(root), "-c", str(config)], capture_output=True, text=True
    )
    if checked.returncode != 0:
        raise RuntimeError(f"nginx refused {config}: {checked.stderr.strip()}")
    return config


def delete_rate_limit_keys(redis_url: str, prefix: str) -> None:
    """Deletes the rate-limit counters kept under TUTOR_RATE_LIMIT_KEY_PREFIX ``prefix`` (the limiter
    names them ``LIMITS:LIMITER/<prefix>/...``); nothing if Redis does not answer."""
    import redis

    try:
        store = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
        keys = list(store.scan_iter(f"LIMITS:LIMITER/{prefix}/*", count=1000))
        for start in range(0, len(keys), 1000):
            store.delete(*keys[start : start + 1000])
    except redis.RedisError:
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``command`` in a session of its own (so it and its children can be stopped together), its
    output appended to ``log``."""
    with log.open("ab") as output:
        return subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stops a process started in its own session: ``sig`` to it alone (gunicorn's master tells its
    workers, which finish the requests in hand and then close their analysis processes; a signal to
    the whole group would kill those analysis processes under the requests), then SIGKILL to whatever
    is left of its group: after STOP_SECONDS, or at once once it has exited."""
    if process.poll() is None:
        try:
            os.kill(process.pid, sig)
            process.wait(timeout=STOP_SECONDS)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_until_answers(
    url: str, process: subprocess.Popen, log: Path, seconds: float = START_SECONDS
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{url}: the process exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own http:// URL)
                return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


def ensure_postgres_database(url: str) -> None:
    """Creates the database of a PostgreSQL URL if it does not exist (as `createdb` would)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return
    engine = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        engine.dispose()


@dataclass
class Topology:
    """nginx on ``port`` in front of one `tutor serve` per entry of ``web_ports``, and ``workers``
    `tutor worker`s, all on ``database_url`` and ``redis_url``; files under ``root``."""

    root: Path
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    port: int = 8080
    web_ports: list[int] = field(default_factory=lambda: [8001, 8002])
    processes_per_instance: int = 2
    workers: int = 1
    env: dict[str, str] = field(default_factory=dict)  # more TUTOR_* settings for every process
    webs: dict[int, subprocess.Popen] = field(default_factory=dict, init=False)
    worker_processes: list[subprocess.Popen] = field(default_factory=list, init=False)
    nginx: subprocess.Popen | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def web_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.web_ports[index]}"

    @property
    def process_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TUTOR_DATABASE_URL": self.database_url,
            "TUTOR_RATE_LIMIT_STORAGE_URL": self.redis_url,
            "TUTOR_PUBLIC_URL": self.url,
            "TUTOR_INSTANCE_PATH": str(self.root / "instance"),
            # One proxy in front: nginx, which sets X-Forwarded-For to the client's address.
            "TUTOR_PROXIES": "1",
            **self.env,
        }

    def start(self) -> None:
        if not Path(NGINX).exists():
            raise RuntimeError(f"nginx is not installed ({NGINX}): apt-get install nginx")
        self.root.mkdir(parents=True, exist_ok=True)
        ensure_postgres_database(self.database_url)
        self.tutor("db", "upgrade")
        try:
            for index in range(len(self.web_ports)):
                self.start_web(index)
            for _ in range(self.workers):
                self.start_worker()
            self.start_nginx()
        except BaseException:
            self.stop()
            raise

    def tutor(self, *args: str) -> str:
        done = subprocess.run([*TUTOR, *args], env=self.process_env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"tutor {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def start_web(self, index: int) -> subprocess.Popen:
        port = self.web_ports[index]
        log = self.root / f"web-{index + 1}.log"
        command = [*TUTOR, "serve", "--host", "127.0.0.1", "--port", str(port)]
        process = spawn([*command, "--workers", str(self.processes_per_instance)], self.process_env, log)
        self.webs[index] = process
        wait_until_answers(f"{self.web_url(index)}/healthz", process, log)
        return process

    def stop_web(self, index: int, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: gunicorn finishes the requests in hand, then exits."""
        stop_group(self.webs.pop(index), sig)

    def restart_web(self, index: int) -> None:
        self.stop_web(index)
        self.start_web(index)

    def start_worker(self) -> subprocess.Popen:
        number = len(self.worker_processes) + 1
        process = spawn([*TUTOR, "worker"], self.process_env, self.root / f"worker-{number}.log")
        self.worker_processes.append(process)
        return process

    def start_nginx(self) -> None:
        upstreams = [f"127.0.0.1:{port}" for port in self.web_ports]
        config = write_nginx_config(self.root, render_site(f"127.0.0.1:{self.port}", upstreams))
        log = self.root / "nginx-error.log"
        self.nginx = subprocess.Popen(
            [NGINX, "-p", str(self.root), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_answers(f"{self.url}/healthz", self.nginx, log)

    def stop(self) -> None:
        """Everything this topology started, by its own pid: nginx first, then workers and instances."""
        if self.nginx is not None:
            stop_group(self.nginx, signal.SIGQUIT)  # graceful: requests in hand are finished
            self.nginx = None
        for process in self.worker_processes:
            stop_group(process)
        self.worker_processes.clear()
        for index in list(self.webs):
            self.stop_web(index)

    def logs(self, pattern: str = "*.log") -> str:
        return "".join(path.read_text(errors="replace") for path in sorted(self.root.glob(pattern)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("TUTOR_PROD_PORT", 8080)), help="nginx's port"
    )
    parser.add_argument("--instances", type=int, default=2, help="web instances (tutor serve)")
    parser.add_argument(
        "--first-web-port", type=int, default=8001, help="the first instance's port; the next ones follow"
    )
    parser.add_argument("--processes", type=int, default=2, help="gunicorn processes per instance")
    parser.add_argument("--workers", type=int, default=1, help="tutor worker processes")
    parser.add_argument(
        "--run-dir", type=Path, default=Path("instance/prod"), help="nginx's prefix, pids and logs"
    )
    arguments = parser.parse_args()
    topology = Topology(
        root=arguments.run_dir.resolve(),
        database_url=os.environ.get("TUTOR_DATABASE_URL", DEFAULT_DATABASE_URL),
        redis_url=os.environ.get("TUTOR_RATE_LIMIT_STORAGE_URL", DEFAULT_REDIS_URL),
        port=arguments.port,
        web_ports=[arguments.first_web_port + n for n in range(arguments.instances)],
        processes_per_instance=arguments.processes,
        workers=arguments.workers,
    )
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    topology.start()
    print(
        f"the tutor: {topology.url} (nginx) -> {', '.join(map(topology.web_url, range(arguments.instances)))}"
    )
    print(f"logs in {topology.root}; Ctrl-C stops everything")
    try:
        while not stopping and all(p.poll() is None for p in [topology.nginx, *topology.webs.values()]):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        topology.stop()


if __name__ == "__main__":
    main()
