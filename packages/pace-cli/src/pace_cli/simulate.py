"""``pace simulate``: real recordings replayed as live runners against a server.

One :class:`~pace_client.runner.RunnerClient` per recording, each on its own
WebSocket, fed by a task that hands it each fix at the fix's send time (see
:mod:`pace_cli.replay` for how times are chosen). The clients do the rest:
batching, acknowledgements, reconnecting with backoff when the server goes
away, and resending from ``last_seq`` when it comes back. The run ends when
every point is acknowledged or rejected, and fails (exit status 1) if any
runner was refused for good and left points unanswered.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from pace_client import api
from pace_client.errors import PaceClientError
from pace_client.runner import RunnerClient
from pace_client.tracks import Recording, load_recording, to_point
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from pace_cli.course_runners import course_recordings, load_course
from pace_cli.render import standings_table
from pace_cli.replay import Align, Replay, plan_replays, runner_names

__all__ = ["RunnerOutcome", "SimulateOptions", "run_simulation"]


@dataclass(frozen=True)
class SimulateOptions:
    """What ``pace simulate`` was asked to do (see its ``--help``)."""

    server: str
    files: Sequence[Path]
    speed: float = 60.0
    """Wall-clock speed-up; ``math.inf`` sends as fast as acks allow."""
    race_id: str | None = None
    organizer_token: str | None = None
    race_name: str | None = None
    distance_m: float | None = None
    names: Sequence[str] = ()
    name_from_file: bool = False
    align: Align = Align.AUTO
    report: Path | None = None
    course: Path | None = None
    """A course file: the new race is a course race over it."""
    laps: int | None = None
    runners: int = 0
    """Synthetic runners over the course (pace_cli.course_runners)."""


@dataclass
class RunnerOutcome:
    """How one replayed runner ended; written to ``--report`` as JSON."""

    name: str
    file: str
    participant_id: str
    points: int
    offset_ms: int = 0
    """How far the replay moved the recording's timestamps."""
    acked: int = 0
    sent: int = 0
    reconnects: int = 0
    rejected: dict[int, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def complete(self) -> bool:
        """Every point was answered: committed or refused with a reason."""
        return self.error is None and self.acked + len(self.rejected) == self.points


class _Report(msgspec.Struct):
    race_id: str
    server: str
    runners: list[dict[str, Any]]
    race: dict[str, Any]


def load_all(files: Sequence[Path]) -> list[Recording]:
    """Every recording, or the first :class:`RecordingError` (nothing is sent)."""
    return [load_recording(path) for path in files]


async def run_simulation(options: SimulateOptions, console: Console) -> int:
    """Run the whole replay; the exit status (0 when every point was answered)."""
    recordings = load_all(options.files)
    names = list(options.names) or runner_names(
        [p.stem for p in options.files], full=options.name_from_file
    )
    course_text = None
    if options.course is not None:
        course_text, course = load_course(options.course, options.laps)
        recordings += course_recordings(course, options.runners)
        names += [f"Runner {i + 1}" for i in range(options.runners)]
    if len(names) != len(recordings):
        raise PaceClientError(f"{len(names)} names for {len(recordings)} recordings")

    async with aiohttp.ClientSession() as session:
        race_id, org_token = await _race(session, options, console, course_text)
        now_ms = time.time_ns() // 1_000_000
        replays = plan_replays(recordings, names, now_ms, options.speed, options.align)
        outcomes = await _run_all(
            session, options.server, race_id, org_token, replays, console
        )
        race = await _final_race(session, options.server, race_id)

    console.print(standings_table(race))
    _print_summary(outcomes, console)
    if options.report is not None:
        _write_report(options, race_id, outcomes, race)
    return 0 if all(o.complete for o in outcomes) else 1


async def _race(
    session: aiohttp.ClientSession,
    options: SimulateOptions,
    console: Console,
    course: str | None = None,
) -> tuple[str, str]:
    """The race to join, creating one unless ``--race`` named it."""
    if options.race_id is not None:
        if not options.organizer_token:
            raise PaceClientError("--race needs --organizer-token to add runners")
        return options.race_id, options.organizer_token

    name = options.race_name or (
        f"Simulated race on {options.course.stem}"
        if options.course is not None
        else f"Replay of {len(options.files)} recordings"
    )
    body = await api.create_race(
        session,
        options.server,
        name,
        distance_m=options.distance_m,
        course=course,
        laps=options.laps,
    )
    race_id, token = race_id_of(body), organizer_token_of(body)
    console.print(f"race {race_id}: {options.server.rstrip('/')}/races/{race_id}")
    return race_id, token


def race_id_of(body: dict[str, Any]) -> str:
    """The race id in a ``POST /api/races`` answer (flat, or under ``race``)."""
    race = body.get("race", body)
    return str(race["id"])


def organizer_token_of(body: dict[str, Any]) -> str:
    return str(body.get("organizer_token") or body["race"]["organizer_token"])


async def _run_all(
    session: aiohttp.ClientSession,
    server: str,
    race_id: str,
    org_token: str,
    replays: Sequence[Replay],
    console: Console,
) -> list[RunnerOutcome]:
    clients, outcomes = [], []
    for replay in replays:
        joined = await api.add_participant(
            session, server, race_id, replay.name, org_token
        )
        clients.append(RunnerClient(server, str(joined["token"]), session=session))
        outcomes.append(
            RunnerOutcome(
                name=replay.name,
                file=str(replay.recording.path),
                participant_id=str(joined["id"]),
                points=len(replay.fixes),
                offset_ms=replay.fixes[0].time_ms - replay.recording.fixes[0].time_ms,
            )
        )

    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
    ) as progress:
        started = time.monotonic()
        tasks = [
            asyncio.create_task(_run_one(client, replay, outcome, started))
            for client, replay, outcome in zip(clients, replays, outcomes, strict=True)
        ]
        await _watch(progress, tasks, clients, outcomes)
    await asyncio.gather(*tasks)
    return outcomes


async def _run_one(
    client: RunnerClient, replay: Replay, outcome: RunnerOutcome, started: float
) -> None:
    """Feed and stream one runner; a refusal ends it but never the others."""
    feeder = asyncio.create_task(_feed(client, replay, started))
    try:
        await client.run()
    except PaceClientError as exc:
        outcome.error = str(exc)
    finally:
        feeder.cancel()
        _collect(client, outcome)


async def _feed(client: RunnerClient, replay: Replay, started: float) -> None:
    """Hand the client every fix that is due, then sleep until the next one is."""
    index = 0
    while index < len(replay.fixes):
        elapsed = time.monotonic() - started
        due = index
        while due < len(replay.fixes) and replay.send_at_s[due] <= elapsed:
            due += 1
        if due > index:
            client.add(to_point(f) for f in replay.fixes[index:due])
            index = due
        else:
            await asyncio.sleep(replay.send_at_s[index] - elapsed)
    client.finish()


def _collect(client: RunnerClient, outcome: RunnerOutcome) -> None:
    outcome.acked = client.acked
    outcome.sent = client.sent
    outcome.reconnects = client.reconnects
    outcome.rejected = dict(client.rejected)


async def _watch(
    progress: Progress,
    tasks: Sequence[asyncio.Task[None]],
    clients: Sequence[RunnerClient],
    outcomes: Sequence[RunnerOutcome],
) -> None:
    """Redraw the bars until every runner is done."""
    ids = [progress.add_task(o.name, total=o.points, note="") for o in outcomes]
    while True:
        for task_id, client, outcome in zip(ids, clients, outcomes, strict=True):
            progress.update(
                task_id,
                completed=client.acked + len(client.rejected),
                note=_note(client, outcome),
            )
        if all(t.done() for t in tasks):
            return
        await asyncio.wait(tasks, timeout=0.25)


def _note(client: RunnerClient, outcome: RunnerOutcome) -> str:
    parts = []
    if client.stats is not None:
        standing = client.stats.standing
        metres = (
            standing.distance_m if standing.progress_m is None else standing.progress_m
        )
        parts.append(f"{metres / 1000:.2f} km #{standing.rank}")
    if client.rejected:
        parts.append(f"{len(client.rejected)} rejected")
    if client.reconnects:
        parts.append(f"{client.reconnects} reconnects")
    if outcome.error:
        parts.append(f"[red]{outcome.error}[/red]")
    return ", ".join(parts)


async def _final_race(
    session: aiohttp.ClientSession, server: str, race_id: str
) -> dict[str, Any]:
    """The final standings; retried briefly in case the server is restarting."""
    for attempt in range(20):
        try:
            return await api.get_race(session, server, race_id)
        except PaceClientError:
            if attempt == 19:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


def _print_summary(outcomes: Sequence[RunnerOutcome], console: Console) -> None:
    for o in outcomes:
        reasons: dict[str, int] = {}
        for reason in o.rejected.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "none"
        line = (
            f"{o.name}: {o.acked}/{o.points} acked, rejected: {detail}, "
            f"reconnects: {o.reconnects}"
        )
        console.print(line + (f" [red]failed: {o.error}[/red]" if o.error else ""))


def _write_report(
    options: SimulateOptions,
    race_id: str,
    outcomes: Sequence[RunnerOutcome],
    race: dict[str, Any],
) -> None:
    runners = [
        {
            "name": o.name,
            "file": o.file,
            "participant_id": o.participant_id,
            "points": o.points,
            "offset_ms": o.offset_ms,
            "sent": o.sent,
            "acked": o.acked,
            "reconnects": o.reconnects,
            "rejected": {str(seq): reason for seq, reason in o.rejected.items()},
            "error": o.error,
            "complete": o.complete,
        }
        for o in outcomes
    ]
    report = _Report(race_id=race_id, server=options.server, runners=runners, race=race)
    assert options.report is not None
    options.report.write_bytes(msgspec.json.format(msgspec.json.encode(report)))


def speed_value(speed: float, fast: bool) -> float:
    """The replay speed: ``--fast`` is infinite; anything else must be positive."""
    if fast:
        return math.inf
    if not speed > 0 or math.isnan(speed):
        raise PaceClientError(f"--speed must be > 0, got {speed}")
    return speed
