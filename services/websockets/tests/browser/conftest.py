"""Real parts for the page tests: the server process, Debian's Chromium, recordings.

Each test gets its own ``python -m pace_websockets`` on a free port with its own
SQLite file; one Chromium serves the whole session, one context per simulated
phone. Screenshots go to ``test-artifacts/screenshots/`` (printed once).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

REPO = Path(__file__).resolve().parents[4]
GPX_DIR = REPO.parent / "shared" / "data" / "gpx"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 412, "height": 860}


@dataclass(frozen=True)
class Fix:
    lat: float
    lon: float
    time_s: float
    """Seconds since the recording's first positioned point."""


def read_recording(name: str) -> list[Fix]:
    """Positioned track points of a GPX file, skipping points with no lat/lon."""
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    root = ET.parse(GPX_DIR / name).getroot()
    fixes: list[Fix] = []
    first: float | None = None
    for pt in root.iterfind(".//g:trkpt", ns):
        if pt.get("lat") is None or pt.get("lon") is None:
            continue
        stamp = pt.findtext("g:time", namespaces=ns)
        assert stamp is not None, f"{name}: a point without time"
        t = _epoch(stamp)
        first = t if first is None else first
        fixes.append(Fix(float(pt.get("lat", 0)), float(pt.get("lon", 0)), t - first))
    return fixes


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """A running ``python -m pace_websockets`` and a tiny HTTP client for its API."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.db_path = tmp / "pace.db"
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        self.env = {
            **os.environ,
            "PACE_HOST": "127.0.0.1",
            "PACE_PORT": str(self.port),
            "PACE_DATABASE_URL": f"sqlite:///{self.db_path}",
            "PACE_TICK_S": "0.5",
            "PACE_LOG_LEVEL": "INFO",
        }
        self.start()

    def start(self) -> None:
        """Start the process (again, on the same port and database file)."""
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pace_websockets"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(self.log_path)

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye, as a crash or an OOM kill would do."""
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def _wait_ready(self, log_path: Path) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + log_path.read_text())
            try:
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server not ready in 30 s:\n" + log_path.read_text())

    def api(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()!r}") from exc

    def create_race(self, name: str, distance_m: float | None = None) -> Any:
        return self.api("POST", "/api/races", {"name": name, "distance_m": distance_m})

    def add_runner(self, race: Any, name: str) -> Any:
        path = f"/api/races/{race['id']}/participants"
        return self.api("POST", path, {"name": name}, race["organizer_token"])

    def standings(self, race_id: str) -> list[Any]:
        race = self.api("GET", f"/api/races/{race_id}")
        return sorted(race["standings"], key=lambda s: s["rank"])

    def stored_seqs(self, participant_id: str) -> list[int]:
        """Every seq the storage holds for the participant, read from the file."""
        with sqlite3.connect(self.db_path) as db:
            rows = db.execute(
                "SELECT seq FROM points WHERE participant_id = ? ORDER BY seq",
                (participant_id,),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    yield srv
    srv.stop()


SAVED: list[Path] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the screenshots went, in every run that took some."""
    if SAVED:
        terminalreporter.write_line(f"{len(SAVED)} page screenshots in {SCREENSHOTS}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module.

    Not per session: Playwright's sync API keeps an event loop running in this
    thread while it is open, which would break every asyncio test after it.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run `make browser` (Debian's chromium)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def geo(fix: Fix) -> dict[str, float]:
    """A fix as Playwright's geolocation, with a phone's good-sky accuracy."""
    return {"latitude": fix.lat, "longitude": fix.lon, "accuracy": 5}


class Phones:
    """Portrait phone-sized browser contexts, location granted or not, closed after."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def __call__(
        self, geolocation: Fix | None = None, granted: bool = True
    ) -> BrowserContext:
        options: dict[str, Any] = {
            "viewport": PHONE,
            "has_touch": True,
            "locale": "en-GB",
            "permissions": ["geolocation"] if granted else [],
        }
        if geolocation is not None:
            options["geolocation"] = geo(geolocation)
        context = self.browser.new_context(**options)
        context.on("page", self._watch)
        self.contexts.append(context)
        return context

    def _watch(self, page: Page) -> None:
        # An uncaught exception in a page is a bug even if the test's checks pass.
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Phones]:
    phones = Phones(browser)
    yield phones
    phones.close()
    assert not phones.errors, phones.errors


@pytest.fixture
def recording() -> Callable[[str], list[Fix]]:
    return read_recording


@pytest.fixture
def shot() -> Callable[..., Path]:
    """Saves a screenshot of the page, at the end of a test, under its name."""

    def save(page: Page, name: str, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        SAVED.append(path)
        return path

    return save
