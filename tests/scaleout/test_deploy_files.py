"""The scale-out deployment files are well-formed (Docker itself cannot run here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def test_compose_starts_the_five_parts() -> None:
    """compose.yaml parses and declares PostgreSQL, Redis, two instances, HAProxy."""
    assert set(compose()["services"]) == {
        "postgres",
        "redis",
        "pace-a",
        "pace-b",
        "haproxy",
    }


def test_compose_instances_share_postgres_and_redis() -> None:
    """Both instances are built from the service's Dockerfile on the same engines."""
    services = compose()["services"]
    a, b = services["pace-a"], services["pace-b"]
    for instance in (a, b):
        assert instance["build"]["dockerfile"] == "services/websockets/Dockerfile"
        assert (DEPLOY / instance["build"]["context"] / "services/websockets").is_dir()
        env = instance["environment"]
        assert env["PACE_DATABASE_URL"].startswith("postgresql://")
        assert env["PACE_DATABASE_URL"].endswith("@postgres:5432/pace")
        assert env["PACE_BROKER_URL"] == "redis://redis:6379/0"
    assert a["environment"]["PACE_INSTANCE_ID"] != b["environment"]["PACE_INSTANCE_ID"]


def test_compose_haproxy_uses_the_repository_config() -> None:
    """HAProxy mounts deploy/haproxy.cfg and points at both instances."""
    haproxy = compose()["services"]["haproxy"]
    source = haproxy["volumes"][0].split(":")[0]
    assert (DEPLOY / source).resolve() == DEPLOY / "haproxy.cfg"
    assert {haproxy["environment"]["PACE_A"], haproxy["environment"]["PACE_B"]} == {
        "pace-a:8000",
        "pace-b:8000",
    }


def test_haproxy_config_is_valid() -> None:
    """haproxy -c accepts deploy/haproxy.cfg with its default addresses."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    result = subprocess.run(
        [haproxy, "-c", "-f", str(DEPLOY / "haproxy.cfg")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
