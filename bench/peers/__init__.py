"""Servers that do Pace's job the way others would, for ``make bench`` to compare.

Each peer speaks the same wire subset, so one load generator drives them all:
``POST /api/races``, ``POST /api/races/{id}/participants`` (Bearer organiser
token), ``/ws/runner`` (hello → welcome, points → ack after commit) and
``/ws/races/{id}`` (a snapshot, then one ``update`` frame per point carrying
``standings: [{participant_id, position: [lat, lon, time_ms]}]``).
"""
