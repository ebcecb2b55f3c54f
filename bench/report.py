"""From results to words: the goals' verdicts, the Markdown tables, a summary.

The tables go into ``docs/benchmarks.md`` between ``<!-- bench:start -->`` and
``<!-- bench:end -->``; the prose around them is written by people and left
alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bench import multireport
from bench.capacity import passes

__all__ = ["goals", "keep_profiles", "summary", "write_markdown"]

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
_CPU_RATIO_GOAL, _RSS_GOAL_KIB, _CONSTANT_TOLERANCE = 2.0, 24.0, 1.25


def _session(results: dict[str, Any], kind: str, runners: int) -> dict[str, Any] | None:
    for session in results["city"]:
        if session["kind"] == kind and session["runners"] == runners:
            return session
    return None


def _median(session: dict[str, Any] | None, audience: int) -> dict[str, Any] | None:
    if session is None or "failed" in session:
        return None
    figures = session["by_audience"].get(str(audience))
    return figures["median"] if figures else None


def _verdict(met: bool | None, text: str) -> dict[str, Any]:
    return {"met": met, "evidence": text}


def _goal_runners(results: dict[str, Any], runners: int, audience: int) -> Any:
    session = _session(results, "pace", runners)
    if session is None:
        return _verdict(None, f"{runners} runners not measured in this plan")
    median = _median(session, audience) or {}
    return _verdict(
        passes(session, audience),
        f"ack p99 {_ms(median.get('ack_p99_ms'))}, point-to-spectator p99 "
        f"{_ms(median.get('p2s_p99_ms'))}, "
        f"{_num(median.get('acked_per_s'))} points/s acked",
    )


def _goal_cpu(results: dict[str, Any], loads: tuple[int, ...], audience: int) -> Any:
    """At the first of ``loads`` where both Pace and the bare loop acked points."""
    usable = []
    for runners in loads:
        pace = _median(_session(results, "pace", runners), audience)
        bare = _median(_session(results, "bare", runners), audience)
        if pace and bare and pace["server_us_per_point"]:
            usable.append((pace["backlog_growing"], runners, pace, bare))
    if not usable:
        return _verdict(None, "no load with CPU per point for both")
    # A backlogged window acks few points: prefer a load Pace kept up with,
    # else the smallest.
    backlogged, runners, pace, bare = min(usable, key=lambda u: u[:2])
    ratio = pace["server_us_per_point"] / bare["server_us_per_point"]
    return _verdict(
        ratio <= _CPU_RATIO_GOAL,
        f"{pace['server_us_per_point']:.1f} µs vs bare "
        f"{bare['server_us_per_point']:.1f} µs a point at {runners} runners: "
        f"{ratio:.1f}x" + (" (Pace backlogged)" if backlogged else ""),
    )


def _goal_peers(results: dict[str, Any]) -> Any:
    cap = results["capacity"]
    pace = cap.get("pace", {}).get("max_runners", 0)
    fastapi = cap.get("fastapi", {}).get("max_runners")
    node = cap.get("node", {}).get("max_runners")
    if fastapi is None or node is None:
        return _verdict(None, "a peer's capacity was not measured in this plan")
    met = pace >= 5 * max(fastapi, 1) and pace >= node
    return _verdict(
        met,
        f"Pace {pace}, FastAPI {fastapi}, Node.js {node} runners "
        f"at S={cap['pace']['audience']}",
    )


def _goal_rss(results: dict[str, Any]) -> Any:
    sessions = [s for s in results["city"] if s["kind"] == "pace" and "failed" not in s]
    if not sessions:
        return _verdict(None, "no Pace session")
    top = max(sessions, key=lambda s: s["runners"])
    kib = top["rss_per_runner_kib"]
    return _verdict(
        kib <= _RSS_GOAL_KIB,
        f"{kib:.1f} KiB per idle runner at {top['runners']} runners",
    )


def _goal_constant(results: dict[str, Any], audience: int) -> Any:
    points = [
        (s["runners"], m["server_us_per_point"])
        for s in results["city"]
        if s["kind"] == "pace"
        and (m := _median(s, audience))
        and m["server_us_per_point"] is not None
    ]
    if len(points) < 2:
        return _verdict(None, "fewer than two Pace loads measured")
    low, high = min(points), max(points)
    ratio = high[1] / low[1]
    return _verdict(
        ratio <= _CONSTANT_TOLERANCE,
        ", ".join(f"{r}: {us:.1f} µs" for r, us in sorted(points))
        + f" (ratio {ratio:.2f})",
    )


def goals(results: dict[str, Any]) -> dict[str, Any]:
    """Each goal of issue 6 with whether this run met it and the figures why."""
    audience = results["meta"]["plan"]["audiences"][0]
    top = max(results["meta"]["plan"]["city_runners"])
    return {
        "10k_runners": _goal_runners(results, 10_000, audience),
        "stretch_20k_runners": (
            _goal_runners(results, top, audience)
            | {"note": f"measured at {top} runners: the 20,000-descriptor limit"}
            if top > 10_000
            else _verdict(None, "no load above 10,000 runners in this plan")
        ),
        "cpu_2x_bare": _goal_cpu(results, (10_000, 1_000, 50), audience),
        "5x_fastapi_and_node": _goal_peers(results),
        "rss_24kib_per_runner": _goal_rss(results),
        "constant_cpu_per_point": _goal_constant(results, audience),
    }


def _ms(value: float | None) -> str:
    return (
        "-"
        if value is None
        else f"{value:.0f} ms"
        if value >= 10
        else f"{value:.1f} ms"
    )


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


_CITY_HEAD = (
    "| system | R | S | points/s acked | ack p50 / p99 | spectator p50 / p99 "
    "| server CPU | µs/point | server waited for a CPU | KiB/runner | KiB/spectator "
    "| commit mean | batch mean "
    "| feed frames/s | feed MB/s | generator CPU | holds bound |\n"
    "|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|\n"
)


def _city_row(session: dict[str, Any], audience: str, figures: dict[str, Any]) -> str:
    m = figures["median"]
    commit = m.get("pace_storage_commit_seconds_mean")
    return (
        f"| {session['kind']} | {session['runners']:,} | {int(audience):,} "
        f"| {_num(m['acked_per_s'])} | {_ms(m['ack_p50_ms'])} / {_ms(m['ack_p99_ms'])} "
        f"| {_ms(m['p2s_p50_ms'])} / {_ms(m['p2s_p99_ms'])} "
        f"| {m['server_cpu_util']:.0%} | {_num(m['server_us_per_point'])} "
        f"| {m['server_cpu_wait_frac']:.0%} "
        f"| {session['rss_per_runner_kib']:.1f} "
        f"| {session['rss_per_spectator_kib']:.1f} "
        f"| {_ms(commit * 1000 if commit is not None else None)} "
        f"| {_num(m.get('pace_storage_batch_points_mean'))} "
        f"| {_num(m['spectator_frames_per_s'])} "
        f"| {m['spectator_bytes_per_s'] / 1e6:.2f} "
        f"| {m['generator_cpu_util_max']:.0%} "
        f"| {'yes' if passes(session, int(audience)) else 'no'} |\n"
    )


def city_table(results: dict[str, Any]) -> str:
    rows = []
    for session in results["city"]:
        if "failed" in session:
            rows.append(
                f"| {session['kind']} | {session['runners']:,} | | did not "
                f"complete: {session['failed']} |" + " |" * 13 + "\n"
            )
            continue
        for audience, figures in session["by_audience"].items():
            rows.append(_city_row(session, audience, figures))
    return _CITY_HEAD + "".join(rows)


def capacity_table(results: dict[str, Any]) -> str:
    out = (
        "| system | spectators | most runners within the bound | first load "
        "that failed | loads tried (runners: ack p99, spectator p99) |\n"
        "|---|---:|---:|---:|---|\n"
    )
    for kind, cap in results["capacity"].items():
        tried = "; ".join(
            f"{t['runners']:,}: {_ms(t['ack_p99_ms'])}, {_ms(t['p2s_p99_ms'])}"
            + ("" if t["passes"] else " ✗")
            for t in sorted(cap["trials"], key=lambda t: t["runners"])
        )
        bound = " (descriptor limit)" if cap["limited_by_fd"] else ""
        worse = cap["first_failing"]
        out += (
            f"| {kind} | {cap['audience']:,} | {cap['max_runners']:,}{bound} "
            f"| {'-' if worse is None else f'{worse:,}'} | {tried} |\n"
        )
    return out


def storage_table(results: dict[str, Any]) -> str:
    out = "| backend | batch (points) | points/s committed |\n|---|---:|---:|\n"
    for row in results["storage"]:
        if row.get("failed"):
            out += f"| {row['backend']} | - | failed: {row['failed']} |\n"
        else:
            rate = _num(row["points_per_s"])
            out += f"| {row['backend']} | {row['batch']:,} | {rate} |\n"
    return out


def goals_table(results: dict[str, Any]) -> str:
    out = "| goal | met | evidence |\n|---|:-:|---|\n"
    for name, goal in results["goals"].items():
        met = {True: "yes", False: "**no**", None: "not measured"}[goal["met"]]
        note = f" ({goal['note']})" if goal.get("note") else ""
        out += f"| {name} | {met} | {goal['evidence']}{note} |\n"
    return out


def meta_block(results: dict[str, Any]) -> str:
    meta = results["meta"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    load = lambda xs: " / ".join(f"{x:.1f}" for x in xs)  # noqa: E731
    return (
        f"- command: `{meta['command']}`, started {meta['started_utc']}, "
        f"took {meta.get('duration_s', 0) / 60:.1f} min, at commit "
        f"{meta.get('commit', '?')}\n"
        f"- machine: {meta['cores']} cores ({meta['cpu_model']}), Linux "
        f"{meta['kernel']}; server pinned to one core, load generator to the other\n"
        f"- load average (1/5/15 min) before {load(meta['load_before'])}, after "
        f"{load(meta.get('load_after', []))}: other engineers' work shares it\n"
        f"- versions: {versions}\n"
        f"- medians of {meta['plan']['windows']} consecutive windows of "
        f"{meta['plan']['window_s']:.0f} s after {meta['plan']['warmup_s']:.0f} s "
        f"of warm-up, connections ramped at {meta['plan']['ramp_per_s']:.0f}/s\n"
    )


def markdown(results: dict[str, Any]) -> str:
    return (
        f"{START}\n\n{meta_block(results)}\n### Goals\n\n{goals_table(results)}\n"
        f"### City race\n\n{city_table(results)}\n"
        f"### Capacity\n\n{capacity_table(results)}\n"
        f"### Storage alone\n\n{storage_table(results)}\n"
        + (
            f"### Several processes\n\n{multireport.table(results['multiprocess'])}\n"
            if "multiprocess" in results
            else ""
        )
        + END
    )


def write_markdown(results: dict[str, Any], path: Path) -> None:
    """Replace what is between the markers (or append the block) in ``path``."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = markdown(results)
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def summary(results: dict[str, Any]) -> str:
    """The goals table; for ``--quick`` with a warning that it proves nothing."""
    if results.get("plan") == "quick":
        return (
            "(quick run: tiny loads check the harness; these verdicts mean "
            "nothing)\n" + goals_table(results)
        )
    return goals_table(results)


def keep_profiles(results: dict[str, Any], folder: Path) -> None:
    """Copy py-spy profiles out of the temporary folder before it goes."""
    for session in results["city"]:
        profile = session.get("profile")
        if profile and Path(profile).exists():
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / Path(profile).name
            shutil.copy(profile, target)
            session["profile"] = str(target.relative_to(folder.parent.parent.parent))


def rebuild(results: dict[str, Any]) -> dict[str, Any]:
    """Recompute derived figures, medians and goals from a run's raw windows.

    Lets a fix to how a figure is derived be applied to a recorded run
    without measuring again (``python -m bench.report FILE``).
    """
    from bench.scenario import median_of

    for session in results["city"]:
        for figures in session.get("by_audience", {}).values():
            for window in figures["windows"]:
                acked = window["acked_per_s"]
                window["server_us_per_point"] = (
                    window["server_cpu_util"] * 1e6 / acked if acked else None
                )
            figures["median"] = median_of(figures["windows"])
    results["goals"] = goals(results)
    return results


if __name__ == "__main__":
    import json
    import sys

    from bench.servers import ROOT

    source = Path(sys.argv[1])
    rebuilt = rebuild(json.loads(source.read_text()))
    source.write_text(json.dumps(rebuilt, indent=1))
    write_markdown(rebuilt, ROOT / "docs" / "benchmarks.md")
    print(summary(rebuilt))
