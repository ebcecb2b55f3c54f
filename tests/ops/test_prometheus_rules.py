"""deploy/prometheus: config, rules and their promtool unit tests.

promtool is Debian's (``make prometheus``). ``make lint`` runs check.sh too;
running it here puts the rules in ``make test`` as well.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

PROM = Path("deploy/prometheus")


def rules(repo: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load((repo / PROM / "rules" / "pace.rules.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def check(directory: Path, ops: Any) -> subprocess.CompletedProcess[str]:
    promtool = ops.require_binary("promtool")
    return subprocess.run(
        ["bash", str(directory / "check.sh")],
        env={"PATH": "/usr/bin:/bin", "PROMTOOL": promtool},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_sh_passes(repo: Path, ops: Any) -> None:
    """promtool accepts the config and the rules, and every rule unit test passes."""
    result = check(repo / PROM, ops)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_check_sh_fails_when_a_rule_breaks(
    repo: Path, ops: Any, tmp_path: Path
) -> None:
    """A threshold changed behind the tests' back makes check.sh fail."""
    copy = tmp_path / "prometheus"
    shutil.copytree(repo / PROM, copy)
    rule_file = copy / "rules" / "pace.rules.yml"
    text = rule_file.read_text()
    rule_file.write_text(
        text.replace(
            "job:pace_storage_commit_seconds:p99_5m > 0.5",
            "job:pace_storage_commit_seconds:p99_5m > 5",
        )
    )

    result = check(copy, ops)

    assert result.returncode != 0
    assert "PaceStorageCommitsSlow" in result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet(repo: Path) -> None:
    """Each alert has a unit test where it fires and one where it stays quiet."""
    doc = yaml.safe_load((repo / PROM / "tests" / "pace.rules.test.yml").read_text())
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in doc["tests"]:
        for check_ in case.get("alert_rule_test", []):
            (fired if check_["exp_alerts"] else quiet).add(check_["alertname"])
    alerts = {rule["alert"] for rule in rules(repo) if "alert" in rule}

    assert len(alerts) >= 6
    assert alerts == fired
    assert alerts == quiet


def test_every_alert_is_documented(repo: Path) -> None:
    """docs/observability.md says what each alert means and what to do."""
    doc = (repo / "docs" / "observability.md").read_text()

    for rule in rules(repo):
        if "alert" in rule:
            assert f"### {rule['alert']}" in doc


def test_rules_read_only_metrics_the_service_exports(
    repo: Path, service: str, ops: Any
) -> None:
    """Every metric a rule reads is on /metrics, or recorded by another rule."""
    status, body = ops.http_get(f"{service}/metrics")
    exported = ops.metric_names(body) | {"up"}
    recorded = {rule["record"] for rule in rules(repo) if "record" in rule}

    assert status == 200
    for rule in rules(repo):
        missing = ops.promql_metrics(rule["expr"]) - exported - recorded
        assert not missing, f"{rule.get('alert') or rule.get('record')}: {missing}"
