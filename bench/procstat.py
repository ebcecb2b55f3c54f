"""What the kernel and a service's ``/metrics`` say about a process.

CPU comes from ``/proc/<pid>/stat`` (utime + stime of the whole thread group,
so SQLite's worker thread is counted), memory from ``VmRSS`` in
``/proc/<pid>/status``. Both are read without psutil so the generator and
the controller add nothing to the environment.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

__all__ = [
    "Histogram",
    "cpu_seconds",
    "histogram_delta",
    "parse_histograms",
    "rss_kib",
    "wait_seconds",
]

_TICKS = os.sysconf("SC_CLK_TCK")
_SAMPLE = re.compile(
    r"^(\w+?)(_bucket|_sum|_count)(?:\{(.*)\})? ([0-9.eE+-]+|[+-]Inf)$"
)


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def wait_seconds(pid: int | str = "self") -> float:
    """Seconds the process's main thread spent runnable but waiting for a CPU.

    On a shared machine this is the honest measure of interference: time the
    server or the generator wanted to run while someone else's work ran.
    """
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[1]) / 1e9


def rss_kib(pid: int | str = "self") -> int:
    """Resident set size of the process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ValueError(f"no VmRSS for pid {pid}")


@dataclass
class Histogram:
    """A Prometheus histogram's cumulative buckets, sum and count."""

    buckets: dict[float, float]
    total: float = 0.0
    count: float = 0.0

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket holding quantile ``q`` (an upper estimate)."""
        if not self.count:
            return None
        for bound in sorted(self.buckets):
            if self.buckets[bound] >= q * self.count:
                return bound
        return None


def parse_histograms(text: str, names: tuple[str, ...]) -> dict[str, Histogram]:
    """The named histograms from Prometheus text, labels other than ``le`` summed."""
    found: dict[str, Histogram] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match.group(1) not in names:
            continue
        name, part, labels, value = match.groups()
        hist = found.setdefault(name, Histogram({}))
        if part == "_sum":
            hist.total += float(value)
        elif part == "_count":
            hist.count += float(value)
        else:
            le = re.search(r'le="([^"]+)"', labels or "")
            bound = float(le.group(1)) if le else float("inf")
            hist.buckets[bound] = hist.buckets.get(bound, 0.0) + float(value)
    return found


def histogram_delta(after: Histogram, before: Histogram | None) -> Histogram:
    """What was observed between two scrapes of the same histogram."""
    if before is None:
        return after
    buckets = {b: v - before.buckets.get(b, 0.0) for b, v in after.buckets.items()}
    return Histogram(buckets, after.total - before.total, after.count - before.count)
