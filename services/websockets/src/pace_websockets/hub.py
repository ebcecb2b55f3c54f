"""Fan-out: from runners' commits to every spectator's socket, once per tick.

Runner side
    After a commit, a runner session hands the hub the participant's new
    standing and events (:meth:`Hub.publish`). The hub coalesces them per race
    and sends one :class:`~pace_websockets.live.RaceDelta` to the broker every
    ``publish_interval_s`` (latest standing per participant wins).

Spectator side
    Every instance keeps a :class:`RaceView` for each race that has a runner
    or a spectator connected to it. The view is bootstrapped from storage
    (participants and stored snapshots) and then follows the broker. Each
    ``tick_s`` the hub ranks the race, encodes *one* ``update`` frame holding
    only the entries that changed (rank changes included) and one frame per
    event, and offers the same bytes to every spectator of the race, the tick's
    frames as one unit. Offering never blocks: each spectator drains its own
    queue, bounded in ticks (spectator.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Protocol

import msgspec
from pace_core.messages import Event, RaceInfo, Snapshot, Standing, Update, encode
from pace_core.standings import Entry, rank

from pace_websockets.broker import Broker, BrokerError, Subscription
from pace_websockets.live import DeltaEntry, RaceDelta, waiting
from pace_websockets.metrics import Metrics
from pace_websockets.storage import RaceRecord, Storage
from pace_websockets.times import from_rfc3339, now_ms, rfc3339

__all__ = ["Hub", "Listener", "RaceView", "race_info"]

log = logging.getLogger("pace.fanout")
_decode_delta = msgspec.msgpack.Decoder(RaceDelta).decode
_encode_delta = msgspec.msgpack.Encoder().encode


class Listener(Protocol):
    """A spectator as the hub sees it: something to offer a tick's frames to."""

    def offer_tick(self, frames: Sequence[bytes]) -> None: ...


def race_info(race: RaceRecord, participants: int) -> RaceInfo:
    starts = None if race.starts_at is None else rfc3339(race.starts_at)
    return RaceInfo(
        race.id,
        race.name,
        race.distance_m,
        starts,
        rfc3339(race.created_at),
        race.status,
        participants,
    )


class RaceView:
    """One race as this instance sees it: every participant's latest standing."""

    def __init__(self, race: RaceRecord) -> None:
        self.race = race
        self.entries: dict[str, Standing] = {}
        self.finish_ms: dict[str, int | None] = {}
        self.ranks: dict[str, int] = {}
        self.sent_ranks: dict[str, int] = {}
        self.dirty: set[str] = set()
        self.arrivals: dict[str, float] = {}
        self.events: list[Event] = []
        self.spectators: set[Listener] = set()
        self.users = 0
        self.tick = 0
        self.resnapshot = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.subscription: Subscription | None = None
        self._snapshot: tuple[int, bytes] | None = None

    def apply(self, delta: RaceDelta) -> None:
        """Take a delta from the broker (from any instance, this one included)."""
        for item in delta.entries:
            pid = item.standing.participant_id
            self.entries[pid] = item.standing
            self.finish_ms[pid] = item.finish_ms
            self.dirty.add(pid)
            self.arrivals.setdefault(pid, item.arrived_at)
        self.events.extend(delta.events)
        if delta.ended and self.race.status != "ended":
            self.race = self.race._replace(status="ended")
            self.resnapshot = True
        self._snapshot = None

    def rerank(self) -> list[str]:
        """Recompute ``ranks``; the participant ids in race order."""
        order = rank(
            Entry(
                pid,
                s.distance_m if s.progress_m is None else s.progress_m,
                self.finish_ms.get(pid),
                s.position.time if s.position else None,
            )
            for pid, s in self.entries.items()
        )
        ids = [entry.participant_id for entry in order]
        self.ranks = {pid: i for i, pid in enumerate(ids, 1)}
        return ids

    def ranked(self) -> list[Standing]:
        """Every standing in race order, with its rank filled in."""
        replace, entries = msgspec.structs.replace, self.entries
        return [replace(entries[pid], rank=i) for i, pid in enumerate(self.rerank(), 1)]

    def snapshot_frame(self) -> bytes:
        """The whole race, encoded; cached until something changes."""
        if self._snapshot is None or self._snapshot[0] != self.tick:
            standings = self.ranked()
            info = race_info(self.race, len(self.entries))
            frame = encode(Snapshot(info, standings, now_ms(), self.tick))
            self._snapshot = (self.tick, frame)
        return self._snapshot[1]

    def frames(self) -> list[bytes]:
        """This tick's frames (events, then one update), or none if nothing changed.

        Only the changed entries are copied and encoded, so a tick costs one
        sort of the race plus work proportional to what changed.
        """
        self.rerank()
        sent, ranks = self.sent_ranks, self.ranks
        self.dirty.update(pid for pid, r in ranks.items() if sent.get(pid) != r)
        self.sent_ranks = ranks
        frames = [encode(e) for e in self.events]
        if self.resnapshot:
            self.resnapshot = False
            self.tick += 1
            return [*frames, self.snapshot_frame()]
        if self.dirty:
            self.tick += 1
            replace, entries = msgspec.structs.replace, self.entries
            changed = [
                replace(entries[pid], rank=ranks[pid], splits=[]) for pid in self.dirty
            ]
            frames.append(encode(Update(changed, now_ms(), self.tick)))
        return frames

    def settle(self) -> Iterator[float]:
        """Forget this tick's changes, yielding the arrival times just broadcast."""
        yield from self.arrivals.values()
        self.arrivals.clear()
        self.dirty.clear()
        self.events.clear()


class _Pending:
    """A race's changes since the last flush: latest entry per participant."""

    __slots__ = ("ended", "entries", "events")

    def __init__(self) -> None:
        self.entries: dict[str, DeltaEntry] = {}
        self.events: list[Event] = []
        self.ended = False


class Hub:
    """Every :class:`RaceView` of this instance, the publisher and the ticker."""

    def __init__(
        self,
        storage: Storage,
        broker: Broker,
        metrics: Metrics,
        origin: str,
        tick_s: float,
        publish_interval_s: float,
    ) -> None:
        self.storage, self.broker, self.metrics = storage, broker, metrics
        self.origin, self.tick_s = origin, tick_s
        self.publish_interval_s = publish_interval_s
        self.views: dict[str, RaceView] = {}
        self._outbox: dict[str, _Pending] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._every(self.publish_interval_s, self.flush)),
            loop.create_task(self._every(self.tick_s, self._tick)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.flush()
        for view in list(self.views.values()):
            await self._drop(view)

    async def _every(
        self, interval: float, work: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``work`` every ``interval`` seconds; a failure is logged, not fatal."""
        while True:
            await asyncio.sleep(interval)
            try:
                await work()
            except Exception:
                log.exception("periodic %s failed", getattr(work, "__name__", work))

    # --- views ---------------------------------------------------------------

    async def acquire(self, race: RaceRecord) -> RaceView:
        """The race's view, bootstrapped on first use; pair with :meth:`release`."""
        view = self.views.get(race.id)
        if view is None:
            view = self.views[race.id] = RaceView(race)
            self.metrics.active_races.set(len(self.views))
            try:
                await self._bootstrap(view)
            except BaseException as exc:
                del self.views[race.id]
                self.metrics.active_races.set(len(self.views))
                view.ready.set_exception(exc)
                view.ready.exception()  # retrieved: other waiters re-raise it
                raise
            view.ready.set_result(None)
        view.users += 1
        try:
            await asyncio.shield(view.ready)
        except BaseException:
            view.users -= 1
            raise
        return view

    async def release(self, view: RaceView) -> None:
        view.users -= 1
        if view.users <= 0 and self.views.get(view.race.id) is view:
            await self._drop(view)

    async def _drop(self, view: RaceView) -> None:
        self.views.pop(view.race.id, None)
        self.metrics.active_races.set(len(self.views))
        if view.subscription is not None:
            with contextlib.suppress(BrokerError):
                await view.subscription.close()

    async def _bootstrap(self, view: RaceView) -> None:
        """Subscribe first, then load: a delta racing the load is not lost."""
        race_id = view.race.id
        try:
            view.subscription = await self.broker.subscribe(
                race_id, lambda payload: self._receive(view, payload)
            )
        except BrokerError:
            self.metrics.broker_errors.inc()
            log.warning(
                "subscribe failed; race stays local", extra={"race_id": race_id}
            )
        await self._load(view)
        view.rerank()
        view.sent_ranks = view.ranks

    def _receive(self, view: RaceView, payload: bytes) -> None:
        try:
            view.apply(_decode_delta(payload))
        except msgspec.DecodeError:
            self.metrics.broker_errors.inc()
            log.warning("undecodable delta", extra={"race_id": view.race.id})

    # --- runner side ---------------------------------------------------------

    def publish(
        self,
        race_id: str,
        entry: DeltaEntry | None = None,
        events: list[Event] | None = None,
        ended: bool = False,
    ) -> None:
        """Queue a change of ``race_id`` for the next broker message (never blocks).

        The outbox is keyed by participant, so a point costs one dict lookup
        however many runners of the race sent since the last flush.
        """
        pending = self._outbox.get(race_id)
        if pending is None:
            pending = self._outbox[race_id] = _Pending()
        if entry is not None:
            pid = entry.standing.participant_id
            old = pending.entries.get(pid)
            if old is not None and old.arrived_at < entry.arrived_at:
                entry.arrived_at = old.arrived_at
            pending.entries[pid] = entry
        if events:
            pending.events.extend(events)
        pending.ended = pending.ended or ended

    async def flush(self) -> None:
        """Send every queued delta, one broker message per race."""
        outbox, self._outbox = self._outbox, {}
        for race_id, pending in outbox.items():
            delta = RaceDelta(
                self.origin, list(pending.entries.values()), pending.events
            )
            delta.ended = pending.ended
            try:
                await self.broker.publish(race_id, _encode_delta(delta))
            except BrokerError as exc:
                self.metrics.broker_errors.inc()
                log.warning("publish failed: %s", exc, extra={"race_id": race_id})
                # Spectators here still see the runners connected here: the
                # delta would have come back through the broker to this view.
                view = self.views.get(race_id)
                if view is not None:
                    view.apply(delta)

    # --- spectator side ------------------------------------------------------

    async def _tick(self) -> None:
        started = time.perf_counter()
        for view in list(self.views.values()):
            self._tick_view(view)
        self.metrics.tick.observe(time.perf_counter() - started)

    def _tick_view(self, view: RaceView) -> None:
        if not (view.dirty or view.events or view.resnapshot):
            return
        if not view.spectators:
            # Nobody watches here: keep ranks fresh for the runners' stats only.
            view.rerank()
            view.resnapshot = False
            for _ in view.settle():
                pass
            return
        frames = view.frames()
        now = time.time()
        for spectator in tuple(view.spectators):
            spectator.offer_tick(frames)
        for arrived in view.settle():
            self.metrics.ingest_to_broadcast.observe(max(0.0, now - arrived))

    async def standings(self, race: RaceRecord) -> tuple[RaceInfo, list[Standing]]:
        """The race and its ranked standings, live if this instance follows it."""
        view = self.views.get(race.id)
        if view is not None and view.ready.done() and not view.ready.exception():
            return race_info(view.race, len(view.entries)), view.ranked()
        temp = RaceView(race)
        await self._load(temp)
        return race_info(race, len(temp.entries)), temp.ranked()

    async def _load(self, view: RaceView) -> None:
        participants = await self.storage.list_participants(view.race.id)
        stored = await self.storage.load_snapshots(view.race.id)
        for p in participants:
            if p.id in view.entries:
                continue  # a live delta arrived while loading: it is newer
            data = stored.get(p.id)
            standing = waiting(p.id, p.name) if data is None else _standing(data)
            view.entries[p.id] = standing
            view.finish_ms[p.id] = (
                None
                if standing.finish_time is None
                else from_rfc3339(standing.finish_time)
            )


_decode_standing = msgspec.json.Decoder(Standing).decode


def _standing(data: bytes) -> Standing:
    return _decode_standing(data)
