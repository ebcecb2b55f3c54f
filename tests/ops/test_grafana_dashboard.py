"""deploy/grafana: the dashboard's shape and that its queries match the service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

GRAFANA = Path("deploy/grafana")


def dashboard(repo: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (repo / GRAFANA / "dashboards" / "pace.json").read_text()
    )
    return data


def exprs(dash: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_panels_an_operator_needs_during_a_race(repo: Path) -> None:
    """Clients, points, rejections, latencies, storage, races, CPU and memory."""
    titles = {p["title"] for p in dashboard(repo)["panels"]}

    for title in [
        "Connected clients",
        "Points in",
        "Points rejected by reason",
        "Ingest to broadcast",
        "Ack latency",
        "Storage commit time",
        "Storage batch size",
        "Active races",
        "CPU",
        "Memory",
    ]:
        assert title in titles


def test_panels_are_well_formed(repo: Path) -> None:
    """Unique ids, a grid position each, and the datasource picked by variable."""
    dash = dashboard(repo)
    ids = [p["id"] for p in dash["panels"]]

    assert len(ids) == len(set(ids))
    assert dash["uid"] and dash["title"]
    for panel in dash["panels"]:
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}"
            assert target["refId"]


def test_provisioning_points_at_a_dashboard_folder(repo: Path) -> None:
    """The provider loads files, and the datasource is Prometheus."""
    prov = GRAFANA / "provisioning"
    dashboards = yaml.safe_load((repo / prov / "dashboards" / "pace.yml").read_text())
    sources = yaml.safe_load(
        (repo / prov / "datasources" / "prometheus.yml").read_text()
    )

    assert dashboards["providers"][0]["type"] == "file"
    assert dashboards["providers"][0]["options"]["path"]
    assert sources["datasources"][0]["type"] == "prometheus"


def test_every_queried_metric_is_exported(repo: Path, service: str, ops: Any) -> None:
    """Each metric in the dashboard's PromQL is on the real service's /metrics."""
    status, body = ops.http_get(f"{service}/metrics")
    exported = ops.metric_names(body)
    queried = set().union(*(ops.promql_metrics(e) for e in exprs(dashboard(repo))))

    assert status == 200
    assert len(queried) >= 12
    assert queried <= exported, queried - exported
