"""The ``/ws/runner`` session: hello, points, acks after commit, stats.

One batch is handled at a time per connection: judge it, hand the rows to the
group committer, wait for the commit, ack, then read the next frame. Other
connections' batches join the same commits meanwhile, which is where the
throughput comes from. Nothing is acked before ``write_batch`` returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time

import msgspec
from aiohttp import WSMsgType, web
from pace_core.engine import EngineEvent
from pace_core.messages import (
    Ack,
    Error,
    Hello,
    Points,
    Reconnect,
    Rejected,
    Standing,
    Stats,
    Status,
    Welcome,
    encode,
)

from pace_websockets.conflicts import RecentPoints
from pace_websockets.hub import RaceView
from pace_websockets.ingest import BAD_POINT, BadFrame, Judged, decode, judge
from pace_websockets.limits import Meter, RateLimited
from pace_websockets.pipeline import feed_course, live_standing, publish, rebuild
from pace_websockets.protocol import Close, Code
from pace_websockets.service import RunnerState, Service
from pace_websockets.storage import (
    ParticipantRecord,
    StorageError,
    StorageFull,
    StorageRejected,
)
from pace_websockets.times import now_ms

__all__ = ["RunnerSession", "token_hash"]

log = logging.getLogger("pace.ingest")

STATS_SLACK = 0.1
"""Fraction of the stats interval by which a stats frame may come early."""
SNAPSHOT_EVERY_S = 5.0
"""Longest a participant's stored snapshot lags its live standing while connected."""


def token_hash(token: str) -> str:
    """Tokens are stored and looked up only as their SHA-256 hex digest."""
    return hashlib.sha256(token.encode()).hexdigest()


_Live = tuple[Standing, int | None]
"""A standing and the finish time in ms it was built with."""


class _Closed(Exception):
    """The session is over; the socket is already closed."""


class RunnerSession:
    """One runner connection; see the module docstring."""

    role = "runner"

    def __init__(
        self, service: Service, ws: web.WebSocketResponse, meter: Meter | None = None
    ) -> None:
        self.service, self.ws, self.meter = service, ws, meter
        self.settings = service.settings
        self.state: RunnerState | None = None
        self.view: RaceView | None = None
        self.replaced = False
        self._recent = RecentPoints()
        self._last_stats = 0.0
        self._stats_due: Standing | None = None
        self._stats_timer: asyncio.TimerHandle | None = None
        self._trailing: set[asyncio.Task[None]] = set()
        self._snap_at = 0.0
        self._snap_status: Status | None = None
        self._snap_due: Standing | None = None
        self._debug = log.isEnabledFor(logging.DEBUG)
        self._out = service.metrics.ws_out("runner")
        self._in = service.metrics.ws_in("runner")

    @property
    def ids(self) -> dict[str, str]:
        if self.state is None:
            return {}
        p = self.state.participant
        return {"race_id": p.race_id, "participant_id": p.id}

    async def run(self) -> None:
        """Serve the connection until it closes, whatever the reason."""
        gauge = self.service.metrics.connected_clients.labels("runner")
        gauge.inc()
        try:
            await self._hello()
            while True:
                await self._handle(await self._receive())
        except _Closed:
            pass
        except (ConnectionError, asyncio.CancelledError):
            await self.ws.close(code=Close.GOING_AWAY)
        except Exception:
            log.exception("runner session failed", extra=self.ids)
            await self.fail(Code.INTERNAL, "server error", Close.INTERNAL)
        finally:
            gauge.dec()
            await self._leave()

    # --- frames --------------------------------------------------------------

    async def send(self, message: Ack | Welcome | Stats | Error | Reconnect) -> None:
        data = encode(message)
        self._out[0] += 1
        self._out[1] += len(data)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_frame(data, WSMsgType.TEXT)

    async def fail(self, code: str, message: str, close: int) -> _Closed:
        """Send an error frame, close with ``close``; raise what this returns."""
        log.info("closing runner: %s", code, extra={**self.ids, "code": code})
        await self.send(Error(code, message))
        await self.ws.close(code=close, message=code.encode())
        return _Closed()

    async def _receive(self, wait_s: float | None = None) -> str:
        try:
            msg = await self.ws.receive(timeout=wait_s)
        except TimeoutError:
            raise await self.fail(
                Code.HELLO_REQUIRED, "no hello in time", Close.POLICY
            ) from None
        if msg.type is WSMsgType.TEXT:
            data: str = msg.data
            self._in[0] += 1
            self._in[1] += len(data)
            if len(data) > self.settings.max_frame_bytes:
                raise await self.fail(
                    Code.FRAME_TOO_LARGE,
                    f"frame of {len(data)} bytes over {self.settings.max_frame_bytes}",
                    Close.TOO_BIG,
                )
            if self.service.shutting_down:
                raise await self.fail(
                    Code.SHUTTING_DOWN, "server is restarting", Close.GOING_AWAY
                )
            return data
        if msg.type is WSMsgType.BINARY:
            raise await self.fail(
                Code.BINARY_NOT_SUPPORTED,
                "send JSON text frames",
                Close.UNSUPPORTED_DATA,
            )
        raise _Closed()

    # --- hello ---------------------------------------------------------------

    async def _hello(self) -> None:
        data = await self._receive(self.settings.hello_timeout_s)
        try:
            message, _ = decode(data)
        except BadFrame as exc:
            raise await self.fail(exc.code, str(exc), Close.POLICY) from None
        if not isinstance(message, Hello):
            raise await self.fail(
                Code.HELLO_REQUIRED, "the first message must be hello", Close.POLICY
            )
        try:
            participant = await self.service.db.participant_by_token_hash(
                token_hash(message.token)
            )
            if participant is None or participant.revoked:
                raise await self.fail(Code.BAD_TOKEN, "unknown token", Close.POLICY)
            await self._join(participant)
        except StorageError as exc:
            raise await self.fail(
                Code.STORAGE_UNAVAILABLE, str(exc), Close.TRY_AGAIN
            ) from None

    async def _join(self, participant: ParticipantRecord) -> None:
        race = await self.service.db.get_race(participant.race_id)
        if race is None:
            raise await self.fail(Code.BAD_TOKEN, "race is gone", Close.POLICY)
        self.view = await self.service.fanout.acquire(race)
        old = self.service.sessions.get(participant.id)
        self.service.sessions[participant.id] = self
        if old is not None:
            await old.replace()
        self.state = await self._state(participant)
        log.info("runner joined", extra=self.ids)
        await self.send(
            Welcome(participant.id, participant.race_id, self.state.committed_seq)
        )
        if self.state.disconnected:
            self.state.disconnected = False
            self.service.metrics.disconnected_clients.dec()
            self._publish(self.state, self._standing(self.state), [], time.time())

    async def _state(self, participant: ParticipantRecord) -> RunnerState:
        """The tracker in memory if storage agrees with it, else one rebuilt."""
        state = self.service.runners.get(participant.id)
        if state is not None and state.pending is not None:
            await asyncio.wait([state.pending])
            state = self.service.runners.get(participant.id)
        stored = await self.service.db.last_seq(participant.id)
        if state is not None and state.committed_seq == stored:
            return state
        state = await self._rebuild(participant, stored)
        self.service.runners[participant.id] = state
        return state

    async def _rebuild(
        self, participant: ParticipantRecord, stored: int
    ) -> RunnerState:
        assert self.view is not None
        return await rebuild(self.service, participant, self.view.race, stored)

    async def replace(self) -> None:
        """Another connection of the same participant took over: leave quietly."""
        self.replaced = True
        await self.fail(Code.REPLACED, "a newer connection took over", Close.POLICY)

    async def revoke(self) -> None:
        """The organiser revoked this participant's token."""
        self.replaced = True
        await self.fail(Code.BAD_TOKEN, "the token was revoked", Close.POLICY)

    # --- points --------------------------------------------------------------

    async def _handle(self, data: str) -> None:
        arrived, started = time.time(), time.perf_counter()
        try:
            self._meter(None)
            message, undecodable = decode(data)
        except BadFrame as exc:
            await self.send(Error(exc.code, str(exc)))
            return
        except RateLimited as exc:
            raise await self.fail(
                Code.RATE_LIMITED, str(exc), Close.TRY_AGAIN
            ) from None
        if isinstance(message, Hello):
            await self.send(Error(Code.ALREADY_HELLO, "hello was already sent"))
            return
        try:
            self._meter(len(message.points) + len(undecodable))
        except RateLimited as exc:
            raise await self.fail(
                Code.RATE_LIMITED, str(exc), Close.TRY_AGAIN
            ) from None
        await self._points(message, undecodable, arrived)
        self.service.metrics.ack_latency.observe(time.perf_counter() - started)

    async def _points(self, batch: Points, bad: list[Rejected], arrived: float) -> None:
        state, view = self.state, self.view
        assert state is not None and view is not None
        count = len(batch.points) + len(bad)
        if count > self.settings.max_batch_points:
            raise await self.fail(
                Code.BATCH_TOO_LARGE,
                f"{count} points, limit {self.settings.max_batch_points}",
                Close.TOO_BIG,
            )
        ended = view.race.status == "ended"
        bad = [*bad, *self._recent.check(batch.points, state.seen)]
        judged, state.seen = judge(
            batch.points,
            state.seen,
            state.tracker,
            state.participant.id,
            now_ms(),
            self.service.limits,
            ended,
        )
        judged.rejected.extend(bad)
        judged.refused.extend(r.reason for r in bad)
        self._count(count, judged)
        if self._debug:
            log.debug(
                "batch of %d: %d stored, %d refused",
                count,
                len(judged.rows),
                len(judged.rejected),
                extra=self.ids,
            )
        events = state.tracker.drain_events()
        feed_course(self.service, state, judged.rows)
        live = self._standing(state) if judged.rows else None
        await self._commit(state, judged, live)
        await self.send(Ack(state.seen, judged.rejected))
        if live is not None:
            self._publish(state, live, events, arrived)
            await self._stats(live[0], view)
        if ended:
            raise await self.fail(Code.RACE_ENDED, "the race has ended", Close.NORMAL)

    def _meter(self, points: int | None) -> None:
        """Charge the rate limits: a message (None) or a batch's points."""
        if self.meter is None:
            return
        if points is None:
            self.meter.message()
        else:
            self.meter.points(points)

    def _count(self, received: int, judged: Judged) -> None:
        tally = self.service.metrics.tally
        tally.received += received
        tally.accepted += judged.accepted
        rejected = tally.rejected
        for reason in (*judged.refused, *judged.stored_reasons):
            rejected[reason] = rejected.get(reason, 0) + 1

    async def _commit(
        self, state: RunnerState, judged: Judged, live: _Live | None
    ) -> None:
        """Wait until this batch, and every earlier one of the runner, is committed."""
        if judged.rows and live is not None:
            state.pending = self.service.commits.submit(
                judged.rows, self._snapshots(state, live[0])
            )
        if state.pending is None:
            return
        try:
            await asyncio.shield(state.pending)
        except StorageError as exc:
            if self.service.runners.get(state.participant.id) is state:
                del self.service.runners[state.participant.id]
            if isinstance(exc, StorageRejected):
                raise await self.fail(
                    BAD_POINT, f"not storable: {exc}", Close.POLICY
                ) from None
            code = Code.STORAGE_FULL if isinstance(exc, StorageFull) else None
            raise await self.fail(
                code or Code.STORAGE_UNAVAILABLE,
                f"not stored, resend: {exc}",
                Close.TRY_AGAIN,
            ) from None
        if judged.rows:
            state.committed_seq = max(state.committed_seq, judged.rows[-1].seq)

    def _snapshots(
        self, state: RunnerState, standing: Standing
    ) -> list[tuple[str, bytes]]:
        """The standing to store with this batch, if one is due.

        Stored snapshots only bootstrap other instances and restarts, so one
        every ``SNAPSHOT_EVERY_S`` (and on every status change) is enough;
        the one held back is written when the session leaves.
        """
        now = time.monotonic()
        if (
            standing.status == self._snap_status
            and now - self._snap_at < SNAPSHOT_EVERY_S
        ):
            self._snap_due = standing
            return []
        self._snap_status, self._snap_at, self._snap_due = standing.status, now, None
        return [(state.participant.id, encode(standing))]

    def _standing(self, state: RunnerState, status: Status | None = None) -> _Live:
        """The runner's standing and finish time (ms), from one tracker view."""
        return live_standing(self.service, state, status)

    def _publish(
        self,
        state: RunnerState,
        live: _Live,
        events: list[EngineEvent],
        arrived: float,
    ) -> None:
        publish(self.service, state, live, events, arrived)

    async def _stats(self, standing: Standing, view: RaceView) -> None:
        """The runner's own standing with its rank, at most once per interval.

        A standing that arrives inside the interval is kept and sent when the
        interval ends (a trailing send), so the last one is never dropped.
        A phone that sends once per interval lands a few ms either side of
        it; ``STATS_SLACK`` lets those go out at once instead of each paying
        for a timer and a task (which cost about 8 % of the CPU at 1 Hz).
        """
        now = time.monotonic()
        interval = self.settings.stats_interval_s
        wait = self._last_stats + interval - now
        if wait <= interval * STATS_SLACK and self._stats_timer is None:
            self._last_stats = now
            await self._send_stats(standing, view)
            return
        self._stats_due = standing
        if self._stats_timer is None:
            loop = asyncio.get_running_loop()
            self._stats_timer = loop.call_later(max(wait, 0.0), self._trail_stats, view)

    def _trail_stats(self, view: RaceView) -> None:
        self._stats_timer = None
        standing, self._stats_due = self._stats_due, None
        if standing is None or self.ws.closed:
            return
        self._last_stats = time.monotonic()
        task = asyncio.get_running_loop().create_task(self._send_stats(standing, view))
        self._trailing.add(task)
        task.add_done_callback(self._trailing.discard)

    async def _send_stats(self, standing: Standing, view: RaceView) -> None:
        rank = view.ranks.get(standing.participant_id, 0)
        standing = msgspec.structs.replace(standing, rank=rank)
        await self.send(Stats(standing, len(view.entries)))

    # --- leaving -------------------------------------------------------------

    async def _leave(self) -> None:
        state, view = self.state, self.view
        if self._stats_timer is not None:
            self._stats_timer.cancel()
            self._stats_timer = None
        if (
            state is not None
            and self.service.sessions.get(state.participant.id) is self
        ):
            del self.service.sessions[state.participant.id]
            self._store_held_snapshot(state)
            self._mark_disconnected(state)
        if view is not None:
            await self.service.fanout.release(view)
        if state is not None:  # one "left" per "joined": not for failed hellos
            log.info("runner left", extra=self.ids)

    def _store_held_snapshot(self, state: RunnerState) -> None:
        """Write the standing :meth:`_snapshots` held back (no need to wait)."""
        if (
            self._snap_due is not None
            and self.service.runners.get(state.participant.id) is state
        ):
            data = encode(self._snap_due)
            self.service.commits.submit([], [(state.participant.id, data)])
        self._snap_due = None

    def _mark_disconnected(self, state: RunnerState) -> None:
        """A runner who drops mid-race shows as disconnected until they return."""
        view = state.tracker.view()
        if self.replaced or self.service.shutting_down or state.disconnected:
            return
        course = self.service.courses.get(state.participant.id)
        if not view.started or view.finished or (course and course.finished):
            return
        if self.service.runners.get(state.participant.id) is not state:
            return  # dropped after a failed commit: storage has the truth
        state.disconnected = True
        self.service.metrics.disconnected_clients.inc()
        live = self._standing(state, "disconnected")
        self._publish(state, live, [], time.time())
        self.service.commits.submit([], [(state.participant.id, encode(live[0]))])

    async def go_away(self) -> None:
        """Shutdown: tell the client to come back shortly, then close (1001)."""
        await self.send(Reconnect(Code.SHUTTING_DOWN, self.settings.reconnect_after_ms))
        await self.ws.close(code=Close.GOING_AWAY, message=b"shutting_down")
