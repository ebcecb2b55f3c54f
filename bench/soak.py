"""``make soak``: Pace under a steady city-race load for a long time.

Where ``make bench`` measures minutes-long windows, the soak keeps one session
going (default 2,000 runners, 100 spectators, 30 one-minute windows) and
prints one line per window when it ends, so that a leak (RSS that only
grows), a backlog that creeps up or latency that drifts shows as a trend. The whole
series goes to ``bench/results/soak-<timestamp>.json`` (ignored by git).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from bench.run import RESULTS
from bench.scenario import Load, run_session

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runners", type=int, default=2_000)
    parser.add_argument("--spectators", type=int, default=100)
    parser.add_argument("--windows", type=int, default=30)
    parser.add_argument("--window-s", type=float, default=60.0)
    args = parser.parse_args(argv)
    load = Load(
        "pace",
        args.runners,
        [args.spectators],
        windows=args.windows,
        window_s=args.window_s,
        warmup_s=10.0,
    )
    with tempfile.TemporaryDirectory(prefix="pace-soak-") as tmp:
        session = uvloop.run(run_session(load, Path(tmp)))
    windows = session["by_audience"][str(args.spectators)]["windows"]
    for i, w in enumerate(windows):
        print(
            f"{i:3d} acked/s {w['acked_per_s']:8.0f}  ack p99 {w['ack_p99_ms']:7.1f} ms"
            f"  unacked {w['unacked_end']:6d}  server CPU {w['server_cpu_util']:4.0%}"
        )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = RESULTS / f"soak-{stamp}.json"
    out.write_text(json.dumps(session, indent=1))
    print(
        f"rss {session['rss_baseline_kib']} -> {session['rss_end_kib']} KiB; "
        f"unacked after drain {session['unacked_after_drain']}; results: {out}"
    )
    return 0 if session["unacked_after_drain"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
