"""docker-compose.yaml: valid against the Compose specification, pinned, healthy, no secrets."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import pytest

from tests.docker.files import (
    COMPOSE_SCHEMA,
    REPO_ROOT,
    app_services,
    compose,
    compose_raw,
    env_example,
    interpolate,
    variable_names,
)

SERVICES = {"postgres", "minio", "minio-init", "mlflow", "prefect-server", "prefect-worker", "dashboard"}
SECRET_KEY = re.compile(r"PASSWORD|SECRET|ACCESS_KEY", re.IGNORECASE)
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]*\}")


def schema_errors(document: dict) -> list[str]:
    """Messages of every violation of the vendored Compose specification schema."""
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def test_the_compose_file_follows_the_compose_specification():
    assert schema_errors(compose_raw()) == []
    assert schema_errors(compose()) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda doc: doc["services"]["mlflow"].update(helthcheck=doc["services"]["mlflow"]["healthcheck"]),
        lambda doc: doc["services"]["dashboard"]["depends_on"]["mlflow"].update(condition="service_ready"),
        lambda doc: doc["services"]["postgres"].update(ports="5432:5432"),
    ],
    ids=["misspelt key", "unknown depends_on condition", "ports not a list"],
)
def test_the_schema_rejects_a_broken_compose_file(break_it):
    document = copy.deepcopy(compose())
    break_it(document)
    assert schema_errors(document)


def test_the_team_services_are_all_there():
    assert set(compose()["services"]) == SERVICES


def test_every_image_tag_is_pinned():
    for name, service in compose()["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: image {image!r} has no pinned tag"
        assert re.search(r"\d", tag), f"{name}: image tag {tag!r} names no version"


def test_every_long_running_service_has_a_health_check():
    for name, service in compose()["services"].items():
        if service.get("restart") == "no":
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name}: no health check"


def test_dependencies_wait_for_health_or_completion():
    services = compose()["services"]
    for name, service in services.items():
        for target, dependency in service.get("depends_on", {}).items():
            condition = dependency["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), f"{name} -> {target}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health, which has no check"
            else:
                assert services[target].get("restart") == "no", f"{target} must be a one-shot service"


def test_app_health_checks_ask_the_port_the_command_listens_on():
    expected = {"mlflow": "--port", "prefect-server": "--port", "dashboard": "--server.port"}
    services = app_services(compose())
    for name, option in expected.items():
        command = services[name]["command"]
        port = command[command.index(option) + 1]
        assert f"127.0.0.1:{port}/" in services[name]["healthcheck"]["test"][-1], name
    assert "--with-healthcheck" in services["prefect-worker"]["command"]


def test_no_credential_is_written_in_the_compose_file():
    for name, service in compose_raw()["services"].items():
        for key, value in service.get("environment", {}).items():
            if SECRET_KEY.search(key):
                assert REQUIRED_VARIABLE.fullmatch(str(value)), f"{name}: {key} must be ${{VAR:?...}} from .env"
    for text in (REPO_ROOT / "docker-compose.yaml").read_text(encoding="utf-8").splitlines():
        for url in re.findall(r"\w+(?:\+\w+)?://[^\s\"']+", text):
            if "@" in url:
                userinfo = url.split("://", 1)[1].split("@", 1)[0]
                assert REQUIRED_VARIABLE.search(userinfo), f"credentials written in {url}"


def test_every_variable_is_in_env_example_and_required_ones_fail_without_it():
    example = env_example()
    assert variable_names(compose_raw()) <= set(example)
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        compose({key: value for key, value in example.items() if key != "POSTGRES_PASSWORD"})


def test_env_example_holds_placeholders_and_env_stays_out_of_git_and_the_image():
    for key, value in env_example().items():
        if SECRET_KEY.search(key):
            assert "change-me" in value, f".env.example: {key} must be a placeholder"
    ignored = {line.strip() for line in (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()}
    assert ".env" in ignored
    docker_ignored = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in docker_ignored


def test_every_database_a_service_uses_is_created():
    created = set(
        re.findall(r"CREATE DATABASE (\w+);", (REPO_ROOT / "docker/postgres/init-databases.sql").read_text("utf-8"))
    )
    services = compose()["services"]
    used = {
        match
        for text in (json.dumps(service) for service in services.values())
        for match in re.findall(r"@postgres:5432/(\w+)", text)
    }
    assert used == {"mlflow", "prefect", "optuna"}
    assert used <= created


def test_interpolation_follows_compose_rules():
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} $$HOME", env) == "x d d  $HOME"
    with pytest.raises(KeyError, match="EMPTY: give it"):
        interpolate("${EMPTY:?give it}", env)
