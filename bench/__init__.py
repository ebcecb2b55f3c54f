"""``make bench``: Pace and its peers under the same load, side by side.

:mod:`bench.run` is the entry point (``python -m bench.run --quick|--full``);
:mod:`bench.loadgen` is the load generator worker, :mod:`bench.servers` starts
the systems under test, :mod:`bench.procstat` reads what the kernel and
``/metrics`` say about them, and :mod:`bench.report` writes the results.
"""
