"""The machine and the versions a result was measured with, for the report."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from importlib import metadata
from typing import Any

from bench.plans import Plan
from bench.servers import NODE_PEER

__all__ = ["describe", "loadavg"]

_PACKAGES = (
    "aiohttp",
    "uvloop",
    "msgspec",
    "aiosqlite",
    "asyncpg",
    "fastapi",
    "uvicorn",
    "starlette",
    "websockets",
    "httptools",
    "py-spy",
)


def loadavg() -> list[float]:
    return list(os.getloadavg())


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _node_versions() -> dict[str, str]:
    found: dict[str, str] = {}
    if shutil.which("node"):
        out = subprocess.run(["node", "--version"], capture_output=True, text=True)
        found["node"] = out.stdout.strip()
    lock = NODE_PEER / "package-lock.json"
    if lock.exists():
        packages = json.loads(lock.read_text()).get("packages", {})
        for name in ("ws", "better-sqlite3"):
            found[name] = packages.get(f"node_modules/{name}", {}).get("version", "?")
    return found


def _versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found | _node_versions()


def _commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=NODE_PEER,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "unknown"


def describe(plan: Plan) -> dict[str, Any]:
    """Command, time, cores, CPU model, load before the run and every version."""
    return {
        "command": f"python -m bench.run --{plan.name}  (make bench"
        + ("-quick)" if plan.name == "quick" else ")"),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": _commit(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "load_before": loadavg(),
        "versions": _versions(),
        "plan": {k: v for k, v in vars(plan).items() if k != "extra"},
    }
