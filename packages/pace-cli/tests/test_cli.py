"""The ``pace`` command, called in-process through ``main(argv)``, on a real service."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import fitdecode
import pytest
from pace_cli.main import main

from .conftest import Service

REPO = Path(__file__).resolve().parents[3]
GPX = REPO.parent / "shared" / "data" / "gpx"
REGATTA_YURY = (
    REPO / "data" / "recordings" / "regatta_gin_sul_2024_participant_yury.gpx"
)


def _json_out(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    assert main(argv) == 0
    body: dict[str, object] = json.loads(capsys.readouterr().out)
    return body


def test_race_create_prints_id_token_and_page(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """``race create`` shows the race id, the organiser token and the race page."""
    status = main(
        [
            "race",
            "create",
            "Sunday 10k",
            "--distance-m",
            "10000",
            "--server",
            service.url,
        ]
    )

    out = capsys.readouterr().out
    assert status == 0
    race_id = out.split("race id:")[1].split()[0]
    assert f"{service.url}/races/{race_id}" in out
    assert len(out.split("organizer token:")[1].split()[0]) >= 40


def test_add_runner_and_show_standings(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """A runner added with the organiser token appears in ``race show``."""
    race = _json_out(
        capsys, ["race", "create", "Club run", "--json", "--server", service.url]
    )
    race_id, token = str(race["id"]), str(race["organizer_token"])

    status = main(
        [
            "race",
            "add-runner",
            race_id,
            "Ada",
            "--token",
            token,
            "--server",
            service.url,
        ]
    )
    added = capsys.readouterr().out
    assert main(["race", "show", race_id, "--server", service.url]) == 0
    shown = capsys.readouterr().out

    assert status == 0
    assert "/run#token=" in added
    assert "Ada" in shown and "waiting" in shown


def test_race_end_marks_the_race_ended(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """``race end`` with the organiser token ends the race for good."""
    race = _json_out(
        capsys, ["race", "create", "Short", "--json", "--server", service.url]
    )
    race_id = str(race["id"])

    status = main(
        [
            "race",
            "end",
            race_id,
            "--token",
            str(race["organizer_token"]),
            "--server",
            service.url,
        ]
    )
    printed = capsys.readouterr().out
    shown = _json_out(
        capsys, ["race", "show", race_id, "--json", "--server", service.url]
    )

    assert status == 0
    assert f"race {race_id}: ended" in printed
    assert shown["status"] == "ended"


def test_simulate_fails_when_a_runner_is_refused(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """Joining a race that has ended: points unanswered, exit status 1."""
    race = _json_out(
        capsys, ["race", "create", "Over", "--json", "--server", service.url]
    )
    race_id, token = str(race["id"]), str(race["organizer_token"])
    assert (
        main(["race", "end", race_id, "--token", token, "--server", service.url]) == 0
    )

    status = main(
        [
            "simulate",
            str(REGATTA_YURY),
            "--fast",
            "--race",
            race_id,
            "--organizer-token",
            token,
            "--server",
            service.url,
        ]
    )

    assert status == 1
    assert "failed: race_ended" in capsys.readouterr().out


def test_wrong_organizer_token_is_a_clear_error(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused token prints the problem's title, not a traceback, and exits 1."""
    race = _json_out(
        capsys, ["race", "create", "Private", "--json", "--server", service.url]
    )

    status = main(
        [
            "race",
            "add-runner",
            str(race["id"]),
            "Eve",
            "--token",
            "nope",
            "--server",
            service.url,
        ]
    )

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(("error: 401", "error: 403")), err
    assert "Traceback" not in err


def test_unknown_race_is_a_404(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """``race show`` of a race that does not exist reports the 404 problem."""
    status = main(["race", "show", "no-such-race", "--server", service.url])

    assert status == 1
    assert "error: 404" in capsys.readouterr().err


def test_simulate_streams_a_real_recording_to_the_end(
    service: Service, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A real run with a missing position replays fully; every point is answered."""
    report = tmp_path / "report.json"
    status = main(
        [
            "simulate",
            str(GPX / "runalyze_etrex_run_first_point_no_latlon.gpx"),
            "--fast",
            "--server",
            service.url,
            "--report",
            str(report),
        ]
    )

    out = capsys.readouterr().out
    runner = json.loads(report.read_text())["runners"][0]
    assert status == 0
    assert runner["complete"] is True
    assert runner["acked"] + len(runner["rejected"]) == runner["points"] == 349
    assert "349/349 acked" in out


def test_simulate_joins_an_existing_race(
    service: Service, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``--race`` with its organiser token adds the runners to that race."""
    race = _json_out(
        capsys, ["race", "create", "Joined", "--json", "--server", service.url]
    )
    report = tmp_path / "report.json"

    status = main(
        [
            "simulate",
            str(GPX / "gpxpy_visnjan_car_drive_1hz.gpx"),
            "--fast",
            "--race",
            str(race["id"]),
            "--organizer-token",
            str(race["organizer_token"]),
            "--server",
            service.url,
            "--name",
            "Driver",
            "--report",
            str(report),
        ]
    )

    body = json.loads(report.read_text())
    assert status == 0
    assert body["race_id"] == race["id"]
    assert [s["name"] for s in body["race"]["standings"]] == ["Driver"]


def test_simulate_refuses_a_recording_without_times(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """A route with no timestamps stops before anything is created (exit 2)."""
    status = main(
        [
            "simulate",
            str(GPX / "georust_strava_route_no_timestamps.gpx"),
            "--server",
            service.url,
        ]
    )

    assert status == 2
    assert "recording has no timestamps" in capsys.readouterr().err


def test_simulate_reports_a_server_that_is_down(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No server at the URL: one line saying it cannot be reached, exit 1."""
    status = main(
        [
            "simulate",
            str(
                REPO
                / "data"
                / "recordings"
                / "regatta_gin_sul_2024_participant_yury.gpx"
            ),
            "--server",
            "http://127.0.0.1:9",
        ]
    )

    assert status == 1
    assert "cannot reach http://127.0.0.1:9" in capsys.readouterr().err


def test_speed_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    """``--speed 0`` is a usage error naming the value."""
    status = main(["simulate", "x.gpx", "--speed", "0"])

    assert status == 2
    assert "--speed must be > 0, got 0.0" in capsys.readouterr().err


def test_serve_runs_the_service_until_sigterm(tmp_path: Path) -> None:
    """``pace serve --port --database-url`` serves /healthz and exits 0 on SIGTERM."""
    svc = Service(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pace_cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(svc.port),
            "--database-url",
            f"sqlite:///{svc.db}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    svc.proc = proc
    try:
        svc.wait_healthy()
    finally:
        proc.terminate()
        status = proc.wait(20)

    assert status == 0
    assert svc.db.exists()


def _fit_times_s(path: Path) -> list[float]:
    """Timestamps of the positioned records, read straight with fitdecode."""
    times = []
    with fitdecode.FitReader(str(path)) as reader:
        for frame in reader:
            if not isinstance(frame, fitdecode.FitDataMessage):
                continue
            positioned = frame.get_value("position_lat", fallback=None) is not None
            if frame.name == "record" and positioned:
                times.append(frame.get_value("timestamp").timestamp())
    return times


def test_simulate_reports_what_the_server_refused(
    service: Service, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The FIT file's stale-clock fixes (20 days before the rest) come back as
    ``too_old`` rejections with their seqs; the run still completes."""
    path = GPX / "runalyze_fit_run_clock_jump_20_days.fit"
    times = _fit_times_s(path)
    two_days = 2 * 86400
    expected = {i for i, t in enumerate(times, start=1) if times[-1] - t > two_days}
    report = tmp_path / "report.json"

    status = main(
        [
            "simulate",
            str(path),
            "--fast",
            "--server",
            service.url,
            "--report",
            str(report),
        ]
    )

    runner = json.loads(report.read_text())["runners"][0]
    assert status == 0
    assert {int(seq) for seq in runner["rejected"]} == expected
    assert set(runner["rejected"].values()) == {"too_old"}
    assert f"rejected: {len(expected)} too_old" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in the command gives the usage line and status 2, no traceback."""
    status = main(["simulat", "x.gpx"])

    err = capsys.readouterr().err
    assert status == 2
    assert "No such command 'simulat'" in err
    assert "Traceback" not in err
