"""``make deploy-NAME`` / deploy/flydeploy.sh against a fake flyctl.

fly.io cannot run here, so a tiny ``flyctl`` script on PATH stands in for it:
it records its argv and working directory, and answers ``auth whoami`` as
logged in or not depending on ``FAKE_FLY_LOGGED_IN``. That is the only mock in
the ops tests.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FAKE_FLYCTL = """#!/bin/sh
printf '%s\\n' "$PWD" "$@" > "$FAKE_FLY_LOG.$1"
if [ "$1" = auth ]; then
  if [ "$FAKE_FLY_LOGGED_IN" = 1 ]; then echo me@example.com; exit 0; fi
  echo "Error: No access token available. Please login with 'flyctl auth login'" >&2
  exit 1
fi
exit 0
"""


def system_path() -> str:
    """PATH with the system tools bash needs and, checked, no real flyctl."""
    path = "/usr/local/bin:/usr/bin:/bin"
    assert shutil.which("flyctl", path=path) is None
    assert shutil.which("fly", path=path) is None
    return path


def fake_bin(tmp_path: Path, name: str = "flyctl") -> Path:
    """A directory holding the fake flyctl under ``name``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / name
    exe.write_text(FAKE_FLYCTL)
    exe.chmod(0o755)
    return bin_dir


def run(
    repo: Path, args: list[str], path: str, tmp_path: Path, logged_in: bool
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": path,
        "HOME": str(tmp_path),
        "FAKE_FLY_LOG": str(tmp_path / "argv"),
        "FAKE_FLY_LOGGED_IN": "1" if logged_in else "0",
    }
    return subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def recorded(tmp_path: Path, command: str) -> list[str] | None:
    """The fake's recorded working directory and argv for ``command``, if called."""
    log = tmp_path / f"argv.{command}"
    return log.read_text().splitlines() if log.exists() else None


def test_missing_flyctl_says_how_to_install(repo: Path, tmp_path: Path) -> None:
    """Without flyctl on PATH the script names the installer and exits non-zero."""
    script = str(repo / "deploy" / "flydeploy.sh")
    result = run(repo, ["bash", script, "websockets"], system_path(), tmp_path, True)

    assert result.returncode == 127
    assert "flyctl is not installed, so nothing was deployed" in result.stderr
    assert "curl -L https://fly.io/install.sh | sh" in result.stderr


def test_not_logged_in_says_how_to_log_in(repo: Path, tmp_path: Path) -> None:
    """A logged-out flyctl gets the login and token instructions, and no deploy."""
    path = f"{fake_bin(tmp_path)}:{system_path()}"
    script = str(repo / "deploy" / "flydeploy.sh")
    result = run(repo, ["bash", script, "websockets"], path, tmp_path, False)

    assert result.returncode == 3
    assert "flyctl auth login" in result.stderr
    assert "FLY_API_TOKEN" in result.stderr
    assert recorded(tmp_path, "auth") == [str(tmp_path), "auth", "whoami"]
    assert recorded(tmp_path, "deploy") is None


def test_make_deploy_runs_flyctl_deploy_from_the_root(
    repo: Path, tmp_path: Path
) -> None:
    """``make deploy-websockets`` deploys with the service's config and Dockerfile."""
    path = f"{fake_bin(tmp_path)}:{system_path()}"
    make = ["make", "--no-print-directory", "-C", str(repo), "deploy-websockets"]
    result = run(repo, make, path, tmp_path, True)

    assert result.returncode == 0, result.stderr
    assert recorded(tmp_path, "deploy") == [
        str(repo),
        "deploy",
        "--config",
        "services/websockets/fly.toml",
        "--dockerfile",
        "services/websockets/Dockerfile",
        ".",
    ]


def test_fly_alias_and_extra_arguments_are_accepted(repo: Path, tmp_path: Path) -> None:
    """flyctl installed as ``fly`` works, and extra arguments reach flyctl deploy."""
    path = f"{fake_bin(tmp_path, 'fly')}:{system_path()}"
    script = str(repo / "deploy" / "flydeploy.sh")
    args = ["bash", script, "websockets", "--remote-only"]
    result = run(repo, args, path, tmp_path, True)

    assert result.returncode == 0, result.stderr
    deploy = recorded(tmp_path, "deploy")
    assert deploy is not None
    assert deploy[1:] == [
        "deploy",
        "--config",
        "services/websockets/fly.toml",
        "--dockerfile",
        "services/websockets/Dockerfile",
        "--remote-only",
        ".",
    ]


@pytest.mark.parametrize("name", ["nope", ""])
def test_unknown_service_is_refused(repo: Path, tmp_path: Path, name: str) -> None:
    """A name with no services/NAME/fly.toml stops before flyctl is called."""
    path = f"{fake_bin(tmp_path)}:{system_path()}"
    script = str(repo / "deploy" / "flydeploy.sh")
    result = run(repo, ["bash", script, name], path, tmp_path, True)

    assert result.returncode == 2
    expected = "no services/nope/fly.toml" if name else "usage:"
    assert expected in result.stderr
    assert recorded(tmp_path, "auth") is None
