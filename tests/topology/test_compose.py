"""deploy/compose.yaml checked without Docker (no engine runs here): its services, commands, settings,
health checks and dependencies, against the Dockerfile, the tutor's command line and its settings,
and nginx's template rendered with compose's values checked by `nginx -t`. The topology itself runs
in test_topology.py, started as `make prod` starts it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from support.ci import skip_or_fail_in_ci
from support.topology import NGINX, REPOSITORY, write_nginx_config

from tutor.cli import main
from tutor.config import variables

DEPLOY = REPOSITORY / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (REPOSITORY / "Dockerfile").read_text()
WEBS = ["web-1", "web-2"]
TUTOR_SERVICES = [*WEBS, "worker", "migrate"]
# Every TUTOR_* variable the tutor reads (tutor/config.py is where settings come from).
SETTINGS = set(variables())


def test_the_topology_has_nginx_two_web_instances_a_worker_postgresql_and_redis():
    assert set(SERVICES) == {"nginx", *WEBS, "worker", "postgres", "redis", "migrate"}
    assert SERVICES["nginx"]["ports"] == ["8080:80"]
    # Only nginx is reachable from outside: the instances are behind it.
    assert all("ports" not in SERVICES[name] for name in SERVICES if name != "nginx")


@pytest.mark.parametrize("name", TUTOR_SERVICES)
def test_tutor_services_run_the_image_the_dockerfile_builds_with_commands_the_cli_has(name):
    service = SERVICES[name]
    assert service["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    assert (
        DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]
    ).resolve() == REPOSITORY / "Dockerfile"
    command = service["command"]
    assert command[0] == "tutor"
    # The command line accepts exactly these arguments (its --help answers for them).
    help_run = CliRunner().invoke(main, [*command[1:], "--help"])
    assert help_run.exit_code == 0, help_run.output
    for option in (part for part in command if part.startswith("--")):
        assert option in help_run.output


def test_the_image_has_what_compose_runs():
    assert re.search(r"^COPY migrations ", DOCKERFILE, re.M)  # the migrate service runs them
    assert re.search(r"^RUN pip install \.$", DOCKERFILE, re.M)  # the tutor command, redis included
    assert re.search(r"^EXPOSE 8000$", DOCKERFILE, re.M)
    for name in WEBS:
        command = SERVICES[name]["command"]
        assert command[command.index("--port") + 1] == "8000"
        assert command[command.index("--host") + 1] == "0.0.0.0"


@pytest.mark.parametrize("name", TUTOR_SERVICES)
def test_tutor_services_share_the_database_and_redis_and_believe_one_proxy(name):
    environment = SERVICES[name]["environment"]
    unknown = {key for key in environment if key.startswith("TUTOR_")} - SETTINGS
    assert not unknown, f"settings the tutor does not read: {unknown}"
    assert "@postgres:5432/" in environment["TUTOR_DATABASE_URL"]
    assert environment["TUTOR_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert environment["TUTOR_RATE_LIMIT_STORAGE_URL"] == "redis://redis:6379/0"
    assert environment["TUTOR_PROXIES"] == "1"  # nginx, and nothing else in front


def test_everything_long_running_has_a_health_check_and_starts_in_order():
    for name, service in SERVICES.items():
        if name == "migrate":
            assert "healthcheck" not in service and service["restart"] == "no"
            continue
        check = service["healthcheck"]
        assert check["test"][0] == "CMD" and check["interval"] and check["retries"] >= 1
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES
    conditions = {
        name: {
            dependency: rule["condition"] for dependency, rule in SERVICES[name].get("depends_on", {}).items()
        }
        for name in SERVICES
    }
    assert conditions["migrate"] == {"postgres": "service_healthy"}
    for name in WEBS:
        assert conditions[name] == {"migrate": "service_completed_successfully", "redis": "service_healthy"}
    assert conditions["worker"] == {"migrate": "service_completed_successfully"}
    assert conditions["nginx"] == dict.fromkeys(WEBS, "service_healthy")
    for name in WEBS:
        assert "/healthz" in " ".join(SERVICES[name]["healthcheck"]["test"])
    assert "--heartbeat" in SERVICES["worker"]["command"]
    heartbeat = SERVICES["worker"]["command"][SERVICES["worker"]["command"].index("--heartbeat") + 1]
    assert heartbeat in " ".join(SERVICES["worker"]["healthcheck"]["test"])


def test_nginx_is_given_the_template_and_every_web_instance():
    nginx = SERVICES["nginx"]
    [volume] = nginx["volumes"]
    source, target, mode = volume.split(":")
    assert (DEPLOY / source).resolve() == DEPLOY / "nginx" / "tutor.conf.template"
    # In place of the image's own default server (its welcome page).
    assert target == "/etc/nginx/templates/default.conf.template" and mode == "ro"
    placeholders = set(re.findall(r"\$\{(TUTOR_[A-Z_]+)\}", (DEPLOY / source).read_text()))
    assert placeholders == set(nginx["environment"]) == {"TUTOR_LISTEN", "TUTOR_UPSTREAM_SERVERS"}
    upstreams = re.findall(r"server ([\w-]+):(\d+)", nginx["environment"]["TUTOR_UPSTREAM_SERVERS"])
    assert upstreams == [(name, "8000") for name in WEBS]


def test_nginx_takes_the_template_with_composes_values(tmp_path):
    if not Path(NGINX).exists():
        skip_or_fail_in_ci("nginx is missing (apt-get install nginx)")
    environment = SERVICES["nginx"]["environment"]
    # The instances' names resolve only inside compose's network: the same lines with this machine.
    servers = re.sub(r"server [\w-]+:", "server 127.0.0.1:", environment["TUTOR_UPSTREAM_SERVERS"])
    site = (DEPLOY / "nginx" / "tutor.conf.template").read_text()
    site = site.replace("${TUTOR_LISTEN}", "127.0.0.1:18080").replace("${TUTOR_UPSTREAM_SERVERS}", servers)

    write_nginx_config(tmp_path, site)  # raises with nginx's message if `nginx -t` refuses it
