"""Typed readers for ``PACE_*`` environment variables.

Each helper takes the name without the prefix and a default, and raises
:class:`SettingsError` naming the variable when a value cannot be parsed, so a
typo fails at start-up with a clear message instead of deep inside a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = [
    "PREFIX",
    "SettingsError",
    "env_bool",
    "env_float",
    "env_int",
    "env_list",
    "env_str",
    "port",
]

PREFIX = "PACE_"


class SettingsError(ValueError):
    """An environment variable holds a value of the wrong type."""


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(PREFIX + name)
    return None if value is None or value.strip() == "" else value.strip()


def env_str(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """``PACE_<name>`` as a string, or ``default`` when unset or empty."""
    value = _raw(name, environ)
    return default if value is None else value


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """``PACE_<name>`` as an int."""
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise SettingsError(
            f"{PREFIX}{name} must be an integer, got {value!r}"
        ) from exc


def env_float(
    name: str, default: float, environ: Mapping[str, str] | None = None
) -> float:
    """``PACE_<name>`` as a float."""
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise SettingsError(f"{PREFIX}{name} must be a number, got {value!r}") from exc


def env_bool(
    name: str, default: bool, environ: Mapping[str, str] | None = None
) -> bool:
    """``PACE_<name>`` as a bool: 1/true/yes/on or 0/false/no/off."""
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{PREFIX}{name} must be a boolean, got {value!r}")


def env_list(
    name: str, default: tuple[str, ...] = (), environ: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """``PACE_<name>`` as a comma-separated list, blanks dropped."""
    value = _raw(name, environ)
    if value is None:
        return default
    return tuple(item.strip() for item in value.split(",") if item.strip())


def port(default: int = 8000, environ: Mapping[str, str] | None = None) -> int:
    """The port to listen on: ``PACE_PORT``, else ``PORT`` (hosting platforms)."""
    env = os.environ if environ is None else environ
    if _raw("PORT", env) is None and env.get("PORT", "").strip():
        return env_int("PORT", default, {PREFIX + "PORT": env["PORT"]})
    return env_int("PORT", default, env)
