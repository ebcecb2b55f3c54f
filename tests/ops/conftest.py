"""Shared fixtures for the ops tests: the repository, free ports, a real service.

The service fixture starts ``python -m pace_websockets`` exactly as
``make run-websockets`` does, on a free port with a temporary SQLite file,
and stops it with SIGTERM as fly.io and Docker do.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UV = REPO / ".tools" / "bin" / "uv"


def free_port() -> int:
    """A TCP port nobody listens on right now (bound to 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(
    url: str, timeout_s: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url`` until it answers 200; fail early if ``proc`` has exited."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"process exited with {proc.returncode} before {url} answered"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s}s: {last}")


def http_get(url: str) -> tuple[int, str]:
    """GET ``url``: the status and the body as text, 4xx and 5xx included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> int:
    """SIGTERM, then SIGKILL if the process does not exit within ``timeout_s``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def metric_names(exposition: str) -> set[str]:
    """Every sample name a Prometheus text exposition can carry.

    Built from the ``# TYPE`` lines, so a labelled counter that has no child
    yet (``pace_points_rejected_total`` before the first rejection) still
    counts: Prometheus would store it as soon as it is incremented.
    """
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("_sum", "_count", "_created"),
        "gauge": ("",),
        "untyped": ("",),
        "info": ("_info",),
    }
    names: set[str] = set()
    for match in re.finditer(r"^# TYPE (\S+) (\S+)$", exposition, re.MULTILINE):
        family, kind = match.groups()
        base = family.removesuffix("_total") if kind == "counter" else family
        names.update(base + suffix for suffix in suffixes.get(kind, ("",)))
    return names


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start the real websockets service; returns its base URL. Stopped at teardown."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> str:
        port = free_port()
        full_env = {
            **os.environ,
            "PACE_HOST": "127.0.0.1",
            "PACE_PORT": str(port),
            "PACE_DATABASE_URL": f"sqlite:///{tmp_path / f'pace-{port}.db'}",
            "PACE_LOG_LEVEL": "WARNING",
            **env,
        }
        log = (tmp_path / f"service-{port}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "pace_websockets"],
            cwd=tmp_path,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", proc=proc)
        return base

    yield start
    for proc in procs:
        stop(proc)


@pytest.fixture
def service(start_service: Callable[..., str]) -> str:
    """One running websockets service (SQLite in a temp dir): its base URL."""
    return start_service()


def require_binary(path: str) -> str:
    """``path`` if it is installed; otherwise fail saying how to install it.

    A missing tool fails instead of skipping: CI must run these tests, and
    ``make test`` installs it first (``make prometheus``).
    """
    found = shutil.which(path)
    assert found, f"{path} is missing: run 'make prometheus' (Debian's prometheus)"
    return found


class Instruction:
    """One Dockerfile instruction: its keyword, argument text and stage index."""

    def __init__(self, keyword: str, args: str, stage: int) -> None:
        self.keyword = keyword
        self.args = args
        self.stage = stage

    def __repr__(self) -> str:
        return f"{self.keyword} {self.args}"


def parse_dockerfile(path: Path) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        keyword, _, args = pending.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(keyword.upper(), args.strip(), stage))
        pending = ""
    return instructions


class BuilderReplay:
    """Replays a Dockerfile's builder stage on this machine, without Docker.

    Docker cannot run here, so this executes what the builder stage does that
    can go wrong for a Python workspace: each ``COPY`` from the context into a
    scratch root (``/app`` mapped under it), each ``uv sync`` with the same
    flags and ``ENV``, with this checkout's uv instead of ``pip install uv``.
    What it proves: the dependency layer installs from the files copied before
    it alone, and the final layer holds importable workspace members. What it
    cannot prove: base-image details, ``--mount`` caching, the runtime stage.
    """

    def __init__(self, dockerfile: Path, context: Path, root: Path) -> None:
        self.dockerfile = dockerfile
        self.context = context
        self.root = root
        self.env: dict[str, str] = {}
        self.cwd = root
        self.copied: list[str] = []
        self.syncs: list[tuple[list[str], list[str]]] = []

    def here(self, path: str) -> Path:
        """An absolute image path, mapped under the scratch root."""
        return self.root / path.lstrip("/")

    def run(self) -> Path:
        """Replay stage 0; returns the virtual environment it built."""
        for step in parse_dockerfile(self.dockerfile):
            if step.stage == 0:
                self.step(step)
        return self.here(self.env["UV_PROJECT_ENVIRONMENT"])

    def step(self, step: Instruction) -> None:
        words = shlex.split(step.args)
        if step.keyword == "ENV":
            self.env.update(word.split("=", 1) for word in words)  # type: ignore[misc]
        elif step.keyword == "WORKDIR":
            self.cwd = self.here(step.args)
            self.cwd.mkdir(parents=True, exist_ok=True)
        elif step.keyword == "COPY":
            self.copy(words)
        elif step.keyword == "RUN":
            self.execute([w for w in words if not w.startswith("--mount=")])

    def copy(self, words: list[str]) -> None:
        assert not any(w.startswith("--from") for w in words), words
        *sources, dest = [w for w in words if not w.startswith("--")]
        for source in sources:
            target = self.cwd / dest
            if dest.endswith("/") or len(sources) > 1:
                target = target / Path(source).name
            target.parent.mkdir(parents=True, exist_ok=True)
            src = self.context / source
            if src.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(src, target, ignore=ignore)
            else:
                shutil.copy2(src, target)
            self.copied.append(source)

    def execute(self, words: list[str]) -> None:
        if words[:2] == ["pip", "install"]:
            return  # installs uv; this checkout's uv stands in for it
        assert words[:2] == ["uv", "sync"], f"cannot replay RUN {words}"
        env = {
            **os.environ,
            **self.env,
            "UV_PROJECT_ENVIRONMENT": str(
                self.here(self.env["UV_PROJECT_ENVIRONMENT"])
            ),
            "UV_PYTHON": shutil.which("python3.11") or sys.executable,
            # Byte-compiling numpy and friends costs a minute on a shared
            # machine and cannot fail in a way this replay is meant to catch.
            "UV_COMPILE_BYTECODE": "0",
        }
        for key in ("VIRTUAL_ENV", "UV_OFFLINE", "UV_FROZEN", "UV_NO_SYNC"):
            env.pop(key, None)
        result = subprocess.run(
            [str(UV), *words[1:]],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"RUN {' '.join(words)} failed:\n{result.stderr}"
        self.syncs.append((words, list(self.copied)))


_PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def promql_metrics(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (functions, labels, keywords dropped)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    grouping = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
    text = re.sub(grouping, " ", text)
    text = re.sub(r"\$\w+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.])[a-zA-Z_:][\w:]*", text):
        name = match.group(0)
        end = match.end()
        if text[end:].lstrip().startswith("("):
            continue
        if name.lower() not in _PROMQL_KEYWORDS:
            names.add(name)
    return names


class Helpers:
    """The functions above, for test modules (importlib mode cannot import conftest)."""

    free_port = staticmethod(free_port)
    wait_http = staticmethod(wait_http)
    http_get = staticmethod(http_get)
    stop = staticmethod(stop)
    metric_names = staticmethod(metric_names)
    require_binary = staticmethod(require_binary)
    parse_dockerfile = staticmethod(parse_dockerfile)
    BuilderReplay = BuilderReplay
    promql_metrics = staticmethod(promql_metrics)


@pytest.fixture(scope="session")
def ops() -> type[Helpers]:
    """Helpers shared by the ops tests."""
    return Helpers
