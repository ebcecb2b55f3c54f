"""The ``pace`` command: run the service, manage races, replay recordings.

``main(argv)`` takes its arguments so tests can call it in-process, and
returns the exit status instead of exiting. Errors the user can fix (a server
that is down, a refused token, a recording with no times) are printed as one
line and give status 2 (usage) or 1 (failure); nothing prints a traceback for
them.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import aiohttp
import typer
from pace_client import api
from pace_client.errors import PaceClientError, RecordingError
from rich.console import Console

from pace_cli.render import standings_table
from pace_cli.replay import Align
from pace_cli.simulate import (
    SimulateOptions,
    organizer_token_of,
    race_id_of,
    run_simulation,
    speed_value,
)

__all__ = ["app", "main"]

DEFAULT_SERVER = "http://127.0.0.1:8000"

app = typer.Typer(
    name="pace",
    help="Pace: live race tracking. Run the service, manage races, replay runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
race_app = typer.Typer(
    help="Create races, add runners, show standings.", no_args_is_help=True
)
app.add_typer(race_app, name="race")

Server = Annotated[
    str,
    typer.Option(
        "--server", envvar="PACE_SERVER", help="Base URL of the Pace service."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]
CourseFile = Annotated[
    Path | None,
    typer.Option("--course", help="Course file (GPX, TCX or GeoJSON): a course race."),
]
Laps = Annotated[int | None, typer.Option(help="Laps of the course (default 1).")]


def _console() -> Console:
    """A console on the current stdout (tests swap it), never wrapping tokens."""
    return Console(soft_wrap=True)


class _Failed(Exception):
    """A user-facing failure already worded: print it and exit with ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


async def _with_session(call: Any) -> Any:
    async with aiohttp.ClientSession() as session:
        return await call(session)


def _run(call: Any) -> Any:
    try:
        return asyncio.run(_with_session(call))
    except PaceClientError as exc:
        raise _Failed(str(exc)) from exc


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (PACE_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (PACE_PORT).")] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="sqlite:///path or postgresql://... (PACE_DATABASE_URL)."),
    ] = None,
    broker_url: Annotated[
        str | None, typer.Option(help="memory:// or redis://... (PACE_BROKER_URL).")
    ] = None,
) -> None:
    """Run the live race service in the foreground (as `make run-websockets`)."""
    settings = {
        "PACE_HOST": host,
        "PACE_PORT": None if port is None else str(port),
        "PACE_DATABASE_URL": database_url,
        "PACE_BROKER_URL": broker_url,
    }
    os.environ.update({k: v for k, v in settings.items() if v is not None})

    from pace_websockets.__main__ import main as serve_main

    serve_main([])


@race_app.command("create")
def race_create(
    name: str,
    distance_m: Annotated[
        float | None, typer.Option(help="Target distance in metres; finish there.")
    ] = None,
    starts_at: Annotated[
        str | None, typer.Option(help="Start time, RFC 3339 with offset.")
    ] = None,
    course: CourseFile = None,
    laps: Laps = None,
    server: Server = DEFAULT_SERVER,
    as_json: AsJson = False,
) -> None:
    """Create a race; prints its id, the organiser token (shown once) and page.

    With --course, a course race: its length is the distance unless given.
    """
    text = _course_text(course)
    body = _run(
        lambda s: api.create_race(
            s,
            server,
            name,
            distance_m=distance_m,
            starts_at=starts_at,
            course=text,
            laps=laps,
        )
    )
    if as_json:
        print(json.dumps(body))
        return
    race_id = race_id_of(body)
    console = _console()
    console.print(f"race id:         {race_id}")
    console.print(f"organizer token: {organizer_token_of(body)}  (shown once: keep it)")
    console.print(f"race page:       {server.rstrip('/')}/races/{race_id}")


@race_app.command("add-runner")
def race_add_runner(
    race_id: str,
    name: str,
    token: Annotated[str, typer.Option("--token", help="The race's organiser token.")],
    server: Server = DEFAULT_SERVER,
    as_json: AsJson = False,
) -> None:
    """Add a participant; prints its id, secret token and join link."""
    body = _run(lambda s: api.add_participant(s, server, race_id, name, token))
    if as_json:
        print(json.dumps(body))
        return
    console = _console()
    console.print(f"participant id: {body['id']}")
    console.print(f"token:          {body['token']}  (shown once: keep it)")
    if body.get("join_url"):
        console.print(f"join link:      {body['join_url']}")


@race_app.command("show")
def race_show(
    race_id: str, server: Server = DEFAULT_SERVER, as_json: AsJson = False
) -> None:
    """Show a race's live standings."""
    body = _run(lambda s: api.get_race(s, server, race_id))
    if as_json:
        print(json.dumps(body))
        return
    _console().print(standings_table(body))


@race_app.command("end")
def race_end(
    race_id: str,
    token: Annotated[str, typer.Option("--token", help="The race's organiser token.")],
    server: Server = DEFAULT_SERVER,
) -> None:
    """End a race: from now on its points are refused with ``race_ended``."""
    body = _run(lambda s: api.end_race(s, server, race_id, token))
    _console().print(f"race {race_id}: {body.get('status', 'ended')}")


@app.command()
def simulate(
    files: Annotated[
        list[Path] | None, typer.Argument(help="GPX, TCX or FIT recordings.")
    ] = None,
    server: Server = DEFAULT_SERVER,
    race: Annotated[
        str | None,
        typer.Option("--race", help="Join this race instead of creating one."),
    ] = None,
    organizer_token: Annotated[
        str | None, typer.Option(help="Organiser token of --race.")
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Replay this many times faster than recorded.")
    ] = 60.0,
    fast: Annotated[
        bool,
        typer.Option("--fast", help="Send as fast as acks allow (infinite speed)."),
    ] = False,
    distance_m: Annotated[
        float | None, typer.Option(help="Target distance of the new race, metres.")
    ] = None,
    race_name: Annotated[str | None, typer.Option(help="Name of the new race.")] = None,
    name: Annotated[
        list[str] | None, typer.Option("--name", help="Runner name, once per file.")
    ] = None,
    name_from_file: Annotated[
        bool, typer.Option(help="Name runners by their whole file name.")
    ] = False,
    align: Annotated[
        Align,
        typer.Option(
            help="clock: keep the files' common clock; start: all start together."
        ),
    ] = Align.AUTO,
    report: Annotated[
        Path | None, typer.Option(help="Write a JSON report of the run here.")
    ] = None,
    course: CourseFile = None,
    laps: Laps = None,
    runners: Annotated[
        int | None,
        typer.Option(help="With --course: synthetic runners over it (default 4)."),
    ] = None,
) -> None:
    """Replay recordings as live runners, one WebSocket each.

    Each file's fixes are sent with their recorded intervals divided by
    --speed. Timestamps keep the recorded intervals and are shifted so the
    recording ends as the replay ends: every fix is sent at or after the time
    it claims (never "in the future" for the server), and speed and pace
    checks see real speeds. Recordings of one event (first fixes within an
    hour) keep their common clock. Survives a server restart: runners
    reconnect and resend what the server lacks. Exit status 1 if any runner's
    points were not all answered.
    """
    if not files and course is None:
        raise _Failed("give recordings, or --course for synthetic runners", status=2)
    options = SimulateOptions(
        server=server,
        files=files or [],
        speed=_speed(speed, fast),
        race_id=race,
        organizer_token=organizer_token,
        race_name=race_name,
        distance_m=distance_m,
        names=name or (),
        name_from_file=name_from_file,
        align=align,
        report=report,
        course=course,
        laps=laps,
        runners=(0 if files else 4) if runners is None else runners,
    )
    try:
        status = asyncio.run(run_simulation(options, _console()))
    except RecordingError as exc:
        raise _Failed(str(exc), status=2) from exc
    except PaceClientError as exc:
        raise _Failed(str(exc)) from exc
    if status:
        raise typer.Exit(status)


def _course_text(course: Path | None) -> str | None:
    if course is None:
        return None
    try:
        return course.read_text()
    except OSError as exc:
        raise _Failed(f"cannot read course {course}: {exc}", status=2) from exc


def _speed(speed: float, fast: bool) -> float:
    try:
        return speed_value(speed, fast)
    except PaceClientError as exc:
        raise _Failed(str(exc), status=2) from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pace`` with ``argv`` (default: the process's); returns the exit status."""
    args = None if argv is None else list(argv)
    try:
        # Outside standalone mode click returns the code of a typer.Exit.
        result = app(args=args, prog_name="pace", standalone_mode=False)
    except _Failed as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False)
        return exc.status
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 130
    except typer.TyperException as exc:
        # Usage errors: typer's vendored click shows them with the usage line.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            Console(stderr=True).print(f"error: {exc.format_message()}")
        return exc.exit_code
    return result if isinstance(result, int) else 0
