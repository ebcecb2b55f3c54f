"""The service's configuration, read once from ``PACE_*`` environment variables.

Example::

    PACE_PORT=9000 PACE_DATABASE_URL=sqlite:////var/lib/pace/pace.db \\
        python -m pace_websockets

Every field has a default that runs a laptop demo; see docs/architecture.md.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from pace_core.messages import MAX_POINTS_PER_BATCH
from pace_servicekit.settings import env_float, env_int, env_list, env_str, port

__all__ = ["Settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite:///./pace.db"
    broker_url: str = "memory://"
    broker_prefix: str = "pace"
    tick_s: float = 1.0
    """Spectators get one ``update`` frame per race per tick at most."""
    publish_interval_s: float = 0.1
    """Runner-side changes of a race go to the broker at most this often."""
    public_url: str = ""
    """Base of join links; empty means the base URL of the request."""
    log_level: str = "INFO"
    allowed_origins: tuple[str, ...] = ()
    """Origins allowed to open WebSockets from a browser; empty allows any."""
    max_frame_bytes: int = 512 * 1024
    max_batch_points: int = MAX_POINTS_PER_BATCH
    max_commit_points: int = 20_000
    """The most points one group commit takes; the rest wait for the next one."""
    max_body_bytes: int = 64 * 1024
    hello_timeout_s: float = 10.0
    stats_interval_s: float = 1.0
    spectator_queue_frames: int = 32
    """A spectator further behind than this is resynchronised with a snapshot."""
    heartbeat_s: float = 30.0
    shutdown_grace_s: float = 10.0
    reconnect_after_ms: int = 1000
    instance_id: str = field(default_factory=lambda: secrets.token_hex(4))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every field from ``PACE_<FIELD>`` (``PORT`` honoured for the port)."""
        d = cls()
        return cls(
            host=env_str("HOST", d.host, environ),
            port=port(d.port, environ),
            database_url=env_str("DATABASE_URL", d.database_url, environ),
            broker_url=env_str("BROKER_URL", d.broker_url, environ),
            broker_prefix=env_str("BROKER_PREFIX", d.broker_prefix, environ),
            tick_s=env_float("TICK_S", d.tick_s, environ),
            publish_interval_s=env_float(
                "PUBLISH_INTERVAL_S", d.publish_interval_s, environ
            ),
            public_url=env_str("PUBLIC_URL", d.public_url, environ).rstrip("/"),
            log_level=env_str("LOG_LEVEL", d.log_level, environ).upper(),
            allowed_origins=env_list("ALLOWED_ORIGINS", (), environ),
            max_frame_bytes=env_int("MAX_FRAME_BYTES", d.max_frame_bytes, environ),
            max_batch_points=env_int("MAX_BATCH_POINTS", d.max_batch_points, environ),
            max_commit_points=env_int(
                "MAX_COMMIT_POINTS", d.max_commit_points, environ
            ),
            max_body_bytes=env_int("MAX_BODY_BYTES", d.max_body_bytes, environ),
            hello_timeout_s=env_float("HELLO_TIMEOUT_S", d.hello_timeout_s, environ),
            stats_interval_s=env_float("STATS_INTERVAL_S", d.stats_interval_s, environ),
            spectator_queue_frames=env_int(
                "SPECTATOR_QUEUE_FRAMES", d.spectator_queue_frames, environ
            ),
            heartbeat_s=env_float("HEARTBEAT_S", d.heartbeat_s, environ),
            shutdown_grace_s=env_float("SHUTDOWN_GRACE_S", d.shutdown_grace_s, environ),
            reconnect_after_ms=env_int(
                "RECONNECT_AFTER_MS", d.reconnect_after_ms, environ
            ),
            instance_id=env_str("INSTANCE_ID", d.instance_id, environ),
        )
