"""services/websockets/fly.toml: parsed, cross-checked with the Dockerfile, probed.

flyctl cannot run here (no fly.io account), so the file is read as TOML and
its promises are checked against the image and against the real service.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

FLY = Path("services/websockets/fly.toml")


def load(repo: Path) -> dict[str, Any]:
    return tomllib.loads((repo / FLY).read_text())


def test_build_uses_the_service_dockerfile(repo: Path) -> None:
    """[build] names the Dockerfile beside fly.toml."""
    fly = load(repo)

    assert fly["build"]["dockerfile"] == "Dockerfile"
    assert (repo / FLY).with_name("Dockerfile").is_file()
    assert fly["app"] and fly["primary_region"]


def test_http_service_serves_websockets_on_port_8000(repo: Path) -> None:
    """Internal port 8000, counted by connections, never stopped mid-race."""
    service = load(repo)["http_service"]

    assert service["internal_port"] == 8000
    assert service["concurrency"]["type"] == "connections"
    assert service["concurrency"]["soft_limit"] < service["concurrency"]["hard_limit"]
    assert service["auto_stop_machines"] == "off"
    assert service["min_machines_running"] >= 1


def test_checks_and_metrics_paths(repo: Path) -> None:
    """Health checks hit /healthz and /readyz; [metrics] points at /metrics."""
    fly = load(repo)
    paths = {check["path"] for check in fly["http_service"]["checks"]}

    assert paths == {"/healthz", "/readyz"}
    assert fly["metrics"] == {"port": 8000, "path": "/metrics"}


def test_volume_matches_the_image(repo: Path) -> None:
    """The volume mounts where the image keeps its SQLite file."""
    fly = load(repo)
    dockerfile = (repo / FLY).with_name("Dockerfile").read_text()

    assert fly["mounts"]["destination"] == "/data"
    assert 'VOLUME ["/data"]' in dockerfile
    assert "PACE_DATABASE_URL=sqlite:////data/pace.db" in dockerfile


def test_connection_urls_are_left_to_secrets(repo: Path) -> None:
    """PACE_DATABASE_URL and PACE_BROKER_URL are secrets, never in [env]."""
    fly = load(repo)
    text = (repo / FLY).read_text()

    assert fly["env"]["PACE_HOST"] == "0.0.0.0"
    assert "PACE_DATABASE_URL" not in fly["env"]
    assert "PACE_BROKER_URL" not in fly["env"]
    assert "flyctl secrets set PACE_DATABASE_URL=" in text


def test_rolling_deploys_and_graceful_stop(repo: Path) -> None:
    """Rolling strategy; SIGTERM with more time than the service's 10 s grace."""
    fly = load(repo)

    assert fly["deploy"]["strategy"] == "rolling"
    assert fly["kill_signal"] == "SIGTERM"
    assert fly["kill_timeout"] > 10


def test_the_checked_paths_answer_on_the_real_service(
    repo: Path, service: str, ops: Any
) -> None:
    """Every path fly.toml probes answers 200 on the running service."""
    fly = load(repo)
    paths = [c["path"] for c in fly["http_service"]["checks"]]

    for path in [*paths, fly["metrics"]["path"]]:
        status, _ = ops.http_get(service + path)
        assert status == 200, path
