"""What every Pace service shares: settings, JSON logs, /healthz, /metrics, serving.

Kept tiny on purpose; a service imports the pieces it needs::

    from pace_servicekit import configure_logging, healthz, metrics_handler
    from pace_servicekit import new_registry, run_app, settings
"""

from pace_servicekit import settings
from pace_servicekit.health import healthz
from pace_servicekit.logging import JsonFormatter, configure_logging
from pace_servicekit.metrics import metrics_handler, new_registry
from pace_servicekit.server import new_event_loop, run_app, serve

__all__ = [
    "JsonFormatter",
    "configure_logging",
    "healthz",
    "metrics_handler",
    "new_event_loop",
    "new_registry",
    "run_app",
    "serve",
    "settings",
]
