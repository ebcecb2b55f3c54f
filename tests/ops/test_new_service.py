"""``make new-service NAME=...``: scripts/new_service.py and its template.

The slow tests run the real thing in a temporary copy of this checkout (the
tracked files plus the working tree's untracked, unignored ones), reusing the
uv binary and uv's cache: ``make new-service NAME=throwaway``, then the new
service's own test, lint, Makefile targets and a replay of its Dockerfile.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

NAME = "throwaway"


def load_script(repo: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "new_service", repo / "scripts" / "new_service.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_root(repo: Path, tmp_path: Path) -> Path:
    """A stand-in root: the real root pyproject and two members' manifests."""
    root = tmp_path / "root"
    for rel in [
        "pyproject.toml",
        "services/websockets/pyproject.toml",
        "packages/pace-core/pyproject.toml",
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repo / rel, root / rel)
    return root


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Demo", "must match [a-z][a-z0-9-]*, got 'Demo'"),
        ("1demo", "must match [a-z][a-z0-9-]*, got '1demo'"),
        ("de_mo", "must match [a-z][a-z0-9-]*, got 'de_mo'"),
        ("demo-", "must not end in '-'"),
        ("de--mo", "hold '--'"),
        ("x" * 31, "exceed 30 characters"),
        ("websockets", "services/websockets already exists"),
        ("core", "a workspace member named pace-core already exists"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_written(
    repo: Path, tmp_path: Path, name: str, message: str
) -> None:
    """Each bad name fails with a message naming it; the root is left untouched."""
    script = load_script(repo)
    root = small_root(repo, tmp_path)
    before = (root / "pyproject.toml").read_text()

    with pytest.raises(script.NewServiceError) as err:
        script.create_service(name, root)

    assert message in str(err.value)
    assert (root / "pyproject.toml").read_text() == before
    assert sorted(p.name for p in (root / "services").iterdir()) == ["websockets"]


def test_the_service_is_registered_in_the_root_pyproject(
    repo: Path, tmp_path: Path
) -> None:
    """The package joins [project] dependencies and [tool.uv.sources], comments kept."""
    script = load_script(repo)
    root = small_root(repo, tmp_path)
    before = (root / "pyproject.toml").read_text()

    script.create_service("demo-x", root)
    after = (root / "pyproject.toml").read_text()
    parsed = tomllib.loads(after)

    assert "pace-demo-x" in parsed["project"]["dependencies"]
    assert parsed["tool"]["uv"]["sources"]["pace-demo-x"] == {"workspace": True}
    assert len(after.splitlines()) == len(before.splitlines()) + 2


def test_the_template_is_filled_in(repo: Path, tmp_path: Path) -> None:
    """Package, module, metric names and commands all follow the service name."""
    script = load_script(repo)
    root = small_root(repo, tmp_path)

    written = script.create_service("demo-x", root)
    service = root / "services" / "demo-x"
    texts = "\n".join(p.read_text() for p in written)
    manifest = tomllib.loads((service / "pyproject.toml").read_text())
    fly = tomllib.loads((service / "fly.toml").read_text())

    assert "{{" not in texts
    assert manifest["project"]["name"] == "pace-demo-x"
    assert (service / "src" / "pace_demo_x" / "__main__.py").is_file()
    assert (service / "src" / "pace_demo_x" / "py.typed").is_file()
    assert 'CMD ["python", "-m", "pace_demo_x"]' in (service / "Dockerfile").read_text()
    assert fly["metrics"]["path"] == "/metrics"
    assert "pace_demo_x_requests" in (service / "src/pace_demo_x/app.py").read_text()


def checkout_copy(repo: Path, dest: Path) -> Path:
    """Tracked and untracked-unignored files of ``repo``, plus its uv binary."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listing.split("\0")):
        source = repo / rel
        if source.is_file() and not rel.startswith(f"services/{NAME}/"):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    (dest / ".tools" / "bin").mkdir(parents=True)
    shutil.copy2(repo / ".tools" / "bin" / "uv", dest / ".tools" / "bin" / "uv")
    return dest


def clean_env() -> dict[str, str]:
    """This environment without what an outer make or venv would leak in."""
    env = dict(os.environ)
    for key in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VIRTUAL_ENV", "PYTHONPATH"]:
        env.pop(key, None)
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    return env


def run(
    cwd: Path, *args: str, timeout: float = 900, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=cwd,
        env={**clean_env(), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def scratch(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout where ``make new-service NAME=throwaway`` ran."""
    copy = checkout_copy(repo, tmp_path_factory.mktemp("repo"))
    result = run(copy, "make", "new-service", f"NAME={NAME}")
    assert result.returncode == 0, result.stdout + result.stderr
    return copy


@pytest.mark.slow
def test_new_service_test_passes_in_the_copy(scratch: Path) -> None:
    """The generated test starts the service as a process and passes."""
    result = run(
        scratch, ".venv/bin/pytest", f"services/{NAME}", "-q", "-p", "no:cacheprovider"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.slow
def test_new_service_is_locked_and_installed(scratch: Path) -> None:
    """uv.lock has the member, and the venv imports it."""
    lock = tomllib.loads((scratch / "uv.lock").read_text())
    names = {p["name"] for p in lock["package"]}
    result = run(scratch, ".venv/bin/python", "-c", f"import pace_{NAME}.app")

    assert f"pace-{NAME}" in names
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_make_targets_resolve_without_a_makefile_edit(
    scratch: Path, repo: Path
) -> None:
    """run-, deploy- and lint cover the new service with no Makefile edit."""
    run_target = run(scratch, "make", "-n", f"run-{NAME}")
    deploy_target = run(scratch, "make", "-n", f"deploy-{NAME}")
    lint_target = run(scratch, "make", "-n", "lint")

    assert (scratch / "Makefile").read_text() == (repo / "Makefile").read_text()
    assert run_target.returncode == 0, run_target.stderr
    assert f"python -m pace_{NAME}" in run_target.stdout
    assert f"bash deploy/flydeploy.sh {NAME}" in deploy_target.stdout
    assert "mypy packages/pace-cli/src" in lint_target.stdout
    assert f"services/{NAME}/src" in lint_target.stdout


@pytest.mark.slow
def test_new_service_is_lint_clean(scratch: Path) -> None:
    """ruff and strict mypy accept the generated code as they do the rest."""
    service = f"services/{NAME}"
    checks = [
        run(scratch, ".venv/bin/ruff", "check", service),
        run(scratch, ".venv/bin/ruff", "format", "--check", service),
        run(
            scratch,
            ".venv/bin/mypy",
            "--strict",
            f"{service}/src",
            MYPYPATH=f"{service}/src",
        ),
    ]

    for result in checks:
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_new_service_dockerfile_builds_a_serving_environment(
    scratch: Path, ops: Any, tmp_path: Path
) -> None:
    """Replaying its Dockerfile's builder yields a venv that serves /metrics."""
    dockerfile = scratch / "services" / NAME / "Dockerfile"
    venv = ops.BuilderReplay(dockerfile, scratch, tmp_path / "image").run()
    cmd = json.loads(dockerfile.read_text().rsplit("CMD ", 1)[1])
    port = ops.free_port()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "PORT": str(port)}

    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    try:
        ops.wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        status, body = ops.http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        ops.stop(proc)

    assert status == 200
    assert f'pace_{NAME}_requests_total{{route="/healthz"}}' in body


@pytest.mark.slow
def test_make_run_starts_the_new_service(scratch: Path, ops: Any) -> None:
    """``make run-throwaway`` serves /healthz and /metrics on PACE_PORT."""
    port = ops.free_port()
    proc = subprocess.Popen(
        ["make", "-s", f"run-{NAME}"],
        cwd=scratch,
        env={**clean_env(), "PACE_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        ops.wait_http(f"http://127.0.0.1:{port}/healthz", timeout_s=120, proc=proc)
        status, body = ops.http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    assert status == 200
    assert "process_cpu_seconds_total" in body
