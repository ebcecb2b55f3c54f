"""Where races, participants and points are kept; see :mod:`.base` for the contract.

:func:`open_storage` picks the backend from the URL scheme, importing the
PostgreSQL driver only when a ``postgresql://`` URL asks for it.
"""

from __future__ import annotations

from pace_websockets.storage.base import (
    ParticipantRecord,
    PointRow,
    RaceRecord,
    Storage,
    StorageError,
    StorageFull,
    StorageRejected,
    StorageUnavailable,
)

__all__ = [
    "ParticipantRecord",
    "PointRow",
    "RaceRecord",
    "Storage",
    "StorageError",
    "StorageFull",
    "StorageRejected",
    "StorageUnavailable",
    "create_storage",
    "open_storage",
]


def create_storage(url: str) -> Storage:
    """A backend for ``url``, not yet opened."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from pace_websockets.storage.sqlite import SQLiteStorage

        return SQLiteStorage(url)
    if scheme in {"postgresql", "postgres"}:
        from pace_websockets.storage.postgres import (  # type: ignore[import-not-found,unused-ignore]
            PostgresStorage,
        )

        storage: Storage = PostgresStorage(url)
        return storage
    raise StorageError(f"unknown database url scheme {scheme!r}")


async def open_storage(url: str) -> Storage:
    """Create the backend for ``url`` and open it (migrations included)."""
    storage = create_storage(url)
    await storage.open()
    return storage
