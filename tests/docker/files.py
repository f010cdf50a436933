"""Read the Docker files of the repository as Docker and Compose would, without Docker."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
ENTRYPOINT = REPO_ROOT / "docker" / "entrypoint.sh"
HEALTHCHECK = REPO_ROOT / "docker" / "healthcheck.py"
COMPOSE_SCHEMA = REPO_ROOT / "docker" / "compose-spec.json"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; $$ is a literal $.
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case) and its arguments as written."""

    keyword: str
    arguments: str
    stage: int


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions of a Dockerfile, continuation lines joined, comments dropped.

    Each instruction carries the index of its build stage (0 for the first FROM).
    """
    logical: list[str] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    instructions: list[Instruction] = []
    stage = -1
    for text in logical:
        keyword, _, arguments = text.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(keyword.upper(), arguments.strip(), stage))
    return instructions


def strings(node: Any) -> list[str]:
    """Every string value (and mapping key) inside a parsed YAML document."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in strings(key) + strings(value)]
    if isinstance(node, list):
        return [text for item in node for text in strings(item)]
    return []


def variable_names(node: Any) -> set[str]:
    """Names of the ${VARIABLES} a parsed compose document refers to."""
    return {match["name"] for text in strings(node) for match in _VARIABLE.finditer(text) if match["name"]}


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation of ``text`` with ``env``.

    Raises:
        KeyError: a ``${VAR:?message}`` variable is unset or empty (``${VAR?message}``: unset).
    """

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op in (":-", ":?") and not value:
            value = None
        if value is not None:
            return value
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        return ""

    return _VARIABLE.sub(substitute, text)


def env_example() -> dict[str, str]:
    """The variables of .env.example (the template of .env)."""
    return {key: value or "" for key, value in dotenv_values(ENV_EXAMPLE).items()}


def compose_raw() -> dict[str, Any]:
    """docker-compose.yaml as written (variables not substituted)."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def interpolated(node: Any, env: dict[str, str]) -> Any:
    """A copy of a parsed YAML document with every string value interpolated (as Compose does)."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolated(item, env) for item in node]
    return node


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yaml as Compose sees it with .env.example as .env (or ``env``)."""
    return interpolated(compose_raw(), env_example() if env is None else env)


def app_services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the lithomap image (the ones built from the Dockerfile)."""
    return {name: service for name, service in model["services"].items() if "build" in service}
