"""Loading real recordings (from ../shared/data/gpx) into replayable fixes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import gpxpy
import pytest
from pace_client.errors import RecordingError
from pace_client.tracks import (
    RecordedFix,
    load_recording,
    shift_by,
    shift_to_now,
    to_point,
)

REPO = Path(__file__).resolve().parents[3]
GPX = REPO.parent / "shared" / "data" / "gpx"


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_regatta_gpx_keeps_every_point_in_file_order() -> None:
    """Every trkpt of a clean GPX becomes a fix, numbered 1..n in file order."""
    rec = load_recording(GPX / "regatta_gin_sul_2024_participant_yury.gpx")
    with open(GPX / "regatta_gin_sul_2024_participant_yury.gpx") as f:
        expected = [
            p for t in gpxpy.parse(f).tracks for s in t.segments for p in s.points
        ]

    assert [f.seq for f in rec.fixes] == list(range(1, len(expected) + 1))
    assert [(f.lat, f.lon) for f in rec.fixes] == [
        (p.latitude, p.longitude) for p in expected
    ]
    assert rec.fixes[0].time_ms == _ms("2024-06-15T14:37:26+00:00")


def test_point_without_lat_lon_is_skipped_not_fatal() -> None:
    """The eTrex file's first trkpt has no position: it is skipped and counted."""
    rec = load_recording(GPX / "runalyze_etrex_run_first_point_no_latlon.gpx")

    assert rec.skipped_no_position == 1
    assert len(rec.fixes) == 349
    assert rec.fixes[0].seq == 1


def test_route_without_any_time_is_refused() -> None:
    """A track with no timestamps cannot be replayed in time: a clear error."""
    with pytest.raises(RecordingError, match="recording has no timestamps"):
        load_recording(GPX / "georust_strava_route_no_timestamps.gpx")


def test_untimed_part_of_a_partly_timed_file_is_skipped() -> None:
    """Korita's untimed track (358 points) is left out; the timed 513 remain."""
    rec = load_recording(GPX / "gpxpy_korita_hike_partial_timestamps.gpx")

    assert (len(rec.fixes), rec.skipped_no_time) == (513, 358)


def test_absurd_times_are_kept_for_the_server_to_judge() -> None:
    """Mojstrovka's int32-minimum times (1901) load as recorded, 7 digits and all."""
    rec = load_recording(GPX / "gpxpy_mojstrovka_hike_int32_min_timestamps.gpx")

    assert len(rec.fixes) == 184
    assert rec.fixes[0].time_ms == _ms("1901-12-13T20:45:52.207+00:00")


def test_tcx_offset_is_honoured() -> None:
    """Polar's ``+01:00`` times are converted to UTC as written (17:40:59Z)."""
    rec = load_recording(GPX / "runalyze_polar_run_wrong_utc_offset.tcx")

    assert rec.fixes[0].time_ms == _ms("2016-04-10T17:40:59+00:00")
    assert rec.skipped_no_position == 1
    assert len(rec.fixes) == 1922


def test_tcx_course_trackpoints_load() -> None:
    """A TCX ``<Courses>`` file reads like an activity; unpositioned points skip."""
    rec = load_recording(GPX / "gpsbabel_tcx_course_thursride_56km.tcx")

    assert rec.skipped_no_position == 3
    assert rec.fixes[0].lat == pytest.approx(34.1738977)
    assert rec.fixes[0].lon == pytest.approx(-118.7587927)


def test_fit_semicircles_become_degrees() -> None:
    """FIT records load with positions in degrees (Kaiserslautern) and UTC times."""
    rec = load_recording(GPX / "runalyze_fit_run_with_6_pauses.fit")

    assert len(rec.fixes) == 2810
    assert rec.fixes[0].lat == pytest.approx(49.45, abs=0.05)
    assert rec.fixes[0].lon == pytest.approx(7.78, abs=0.05)
    assert rec.fixes[0].time_ms == _ms("2014-10-02T14:46:48+00:00")
    assert rec.fixes[0].speed == pytest.approx(1.34)


def test_fit_records_without_position_are_skipped() -> None:
    """The open-water swim has 914 records, only 507 with a position."""
    rec = load_recording(GPX / "runalyze_fit_open_water_swim_gps_jitter.fit")

    assert (len(rec.fixes), rec.skipped_no_position) == (507, 407)


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    """A file that is not GPX, TCX or FIT gets a clear error naming it."""
    path = tmp_path / "run.kml"
    path.write_text("<kml/>")

    with pytest.raises(RecordingError, match=r"unsupported recording format: run\.kml"):
        load_recording(path)


def test_malformed_xml_is_a_recording_error(tmp_path: Path) -> None:
    """A truncated GPX is reported as unreadable, not as a parser traceback."""
    path = tmp_path / "cut.gpx"
    path.write_text("<gpx><trk><trkseg><trkpt lat='1' lon='2'>")

    with pytest.raises(RecordingError, match=r"cannot read cut\.gpx"):
        load_recording(path)


def test_shift_to_now_keeps_every_interval() -> None:
    """The first fix lands on ``start_ms``; every gap, even backwards, is kept."""
    fixes = [RecordedFix(1, 1000, 0.1, 0.1), RecordedFix(2, 900, 0.1, 0.1)]
    fixes.append(RecordedFix(3, 61_000, 0.1, 0.1))

    shifted = shift_to_now(fixes, 5_000_000)

    assert [f.time_ms for f in shifted] == [5_000_000, 4_999_900, 5_060_000]
    assert shift_by(fixes, 0) == fixes


def test_to_point_carries_the_exact_millisecond() -> None:
    """The wire point's aware datetime is the fix's time to the millisecond."""
    point = to_point(RecordedFix(7, 1_718_462_066_123, 53.5, 9.8, alt=1.5))

    assert point.seq == 7
    assert point.time == datetime(2024, 6, 15, 14, 34, 26, 123000, tzinfo=UTC)
    assert (point.lat, point.lon, point.alt) == (53.5, 9.8, 1.5)
