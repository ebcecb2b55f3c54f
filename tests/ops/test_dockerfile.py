"""services/websockets/Dockerfile and .dockerignore, checked without Docker.

Docker cannot run on this machine and hadolint is not installed, so these
tests read the Dockerfile (layer order, user, command, signal, volume) and
replay its builder stage with uv (see ``BuilderReplay`` in conftest.py), then
start the service from the environment that replay built.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

DOCKERFILE = Path("services/websockets/Dockerfile")


def stages(ops: Any, repo: Path) -> tuple[list[Any], list[Any]]:
    steps = ops.parse_dockerfile(repo / DOCKERFILE)
    return [s for s in steps if s.stage == 0], [s for s in steps if s.stage == 1]


def runtime_env(runtime: list[Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for step in runtime:
        if step.keyword == "ENV":
            env.update(w.split("=", 1) for w in shlex.split(step.args))
    return env


def workspace_deps(repo: Path, package: str) -> set[str]:
    """Workspace members ``package`` needs, itself included, from uv.lock."""
    lock = tomllib.loads((repo / "uv.lock").read_text())
    members = {
        p["name"]: p["source"]["editable"]
        for p in lock["package"]
        if "editable" in p.get("source", {})
    }
    deps = {
        p["name"]: [d["name"] for d in p.get("dependencies", [])]
        for p in lock["package"]
    }
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name in members and name not in seen:
            seen.add(name)
            todo.extend(deps.get(name, []))
    return {members[name] for name in seen}


def test_two_stages_slim_runtime(ops: Any, repo: Path) -> None:
    """A builder stage and a python:3.11-slim runtime stage."""
    steps = ops.parse_dockerfile(repo / DOCKERFILE)
    froms = [s.args for s in steps if s.keyword == "FROM"]

    assert froms == ["python:3.11-slim AS builder", "python:3.11-slim AS runtime"]


def test_dependency_layer_comes_from_manifests_only(ops: Any, repo: Path) -> None:
    """Only uv.lock and pyproject.toml files are copied before dependencies install."""
    builder, _ = stages(ops, repo)
    dep_sync = next(
        i for i, s in enumerate(builder) if "--no-install-workspace" in s.args
    )
    copied_before = [
        w
        for s in builder[:dep_sync]
        if s.keyword == "COPY"
        for w in s.args.split()[:-1]
    ]

    assert copied_before, "no manifests copied before the dependency layer"
    assert all(Path(w).name in {"pyproject.toml", "uv.lock"} for w in copied_before)
    assert "--frozen" in builder[dep_sync].args
    assert "--no-dev" in builder[dep_sync].args
    assert any("/src" in s.args for s in builder[dep_sync:] if s.keyword == "COPY")


def test_every_needed_member_is_copied(ops: Any, repo: Path) -> None:
    """Each workspace member the service needs (per uv.lock) has manifest and src."""
    builder, _ = stages(ops, repo)
    copies = " ".join(s.args for s in builder if s.keyword == "COPY")

    needed = workspace_deps(repo, "pace-websockets")
    assert "services/websockets" in needed
    for member in needed:
        assert f"{member}/pyproject.toml" in copies
        assert f"{member}/src" in copies


def test_runtime_runs_as_non_root_with_the_make_command(ops: Any, repo: Path) -> None:
    """The runtime user is not root and CMD is what ``make run-websockets`` runs."""
    _, runtime = stages(ops, repo)
    users = [s.args for s in runtime if s.keyword == "USER"]
    cmd = json.loads(next(s.args for s in runtime if s.keyword == "CMD"))
    makefile = (repo / "Makefile").read_text()
    uid, _, gid = users[-1].partition(":")
    created = " ".join(s.args for s in runtime if s.keyword == "RUN")

    assert uid.isdigit() and gid.isdigit() and int(uid) != 0
    assert f"--uid {uid}" in created and f"--gid {gid}" in created
    assert cmd == ["python", "-m", "pace_websockets"]
    assert "python -m pace_$(subst -,_,$*)" in makefile


def test_runtime_settings_for_a_container(ops: Any, repo: Path) -> None:
    """Binds all interfaces, leaves the port to PORT, keeps SQLite on /data."""
    _, runtime = stages(ops, repo)
    env = runtime_env(runtime)
    volumes = [json.loads(s.args) for s in runtime if s.keyword == "VOLUME"]
    signals = [s.args for s in runtime if s.keyword == "STOPSIGNAL"]

    assert env["PACE_HOST"] == "0.0.0.0"
    assert "PACE_PORT" not in env
    assert env["PACE_DATABASE_URL"] == "sqlite:////data/pace.db"
    assert volumes == [["/data"]]
    assert signals == ["SIGTERM"]


def test_runtime_takes_only_the_environment_from_the_builder(
    ops: Any, repo: Path
) -> None:
    """Nothing from the build context reaches the runtime image but the venv."""
    _, runtime = stages(ops, repo)
    copies = [s.args for s in runtime if s.keyword == "COPY"]

    assert copies == ["--from=builder --chown=pace:pace /app/.venv /app/.venv"]


def test_dockerignore_keeps_local_state_out(repo: Path) -> None:
    """.venv, tools, git, caches, node_modules and databases stay out of context."""
    patterns = [
        line.strip()
        for line in (repo / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in [".venv", ".tools", ".git", "pace.db", "services/x/node_modules"]:
        assert any(fnmatch.fnmatch(path, p) or path == p for p in patterns), path


def test_copied_sources_exist_and_are_not_ignored(ops: Any, repo: Path) -> None:
    """Every COPY source is in the repository and not excluded by .dockerignore."""
    builder, _ = stages(ops, repo)
    ignored = [
        line.strip()
        for line in (repo / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [w for s in builder if s.keyword == "COPY" for w in s.args.split()[:-1]]

    for source in sources:
        assert (repo / source).exists(), source
        assert not any(fnmatch.fnmatch(source, p) for p in ignored), source


@pytest.mark.slow
def test_builder_stage_replayed_builds_a_service_that_serves(
    ops: Any, repo: Path, tmp_path: Path
) -> None:
    """The replayed builder's venv alone starts the service, on PORT, answering."""
    replay = ops.BuilderReplay(repo / DOCKERFILE, repo, tmp_path / "image")
    venv = replay.run()
    _, runtime = stages(ops, repo)

    first_sync, copied_then = replay.syncs[0]
    assert "--no-install-workspace" in first_sync
    assert not any(c.endswith("/src") for c in copied_then)

    port = ops.free_port()
    env = {
        **runtime_env(runtime),
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "PACE_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'pace.db'}",
        "PORT": str(port),
    }
    (tmp_path / "data").mkdir()
    cmd = json.loads(next(s.args for s in runtime if s.keyword == "CMD"))
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    try:
        ops.wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        status, body = ops.http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        returncode = ops.stop(proc)

    assert status == 200
    assert re.search(r"^pace_points_received_total 0\.0$", body, re.MULTILINE)
    assert returncode == 0


def test_make_run_websockets_runs_the_image_command(ops: Any, repo: Path) -> None:
    """``make -n run-websockets`` resolves to the Dockerfile's CMD (not a no-op)."""
    _, runtime = stages(ops, repo)
    cmd = " ".join(json.loads(next(s.args for s in runtime if s.keyword == "CMD")))
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "run-websockets"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].endswith(cmd)
