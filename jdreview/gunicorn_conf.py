"""gunicorn settings used by ``./dev.sh up`` (and a production start: ``-c`` this file).

Each web worker starts loading the live query-expansion models as soon as it has booted,
so the first search after a deploy is not the one that pays for the load.

Metrics (jdreview/metrics.py): every worker writes its series into one folder that a
scrape merges. The master removes the files of ended processes when it starts, and marks a
worker dead when it exits (which drops its live gauges; its counts stay, so totals do not
go down when a worker is replaced). The hooks import the metrics module, and with it the
settings, only when they run.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("jdreview.gunicorn")


def post_worker_init(worker: Any) -> None:
    from django.db import connection

    from workers.qe.serving import models_warm

    try:
        models_warm()
    except Exception:  # a worker must still serve labeling when the database is not ready
        log.exception("could not start loading the live models")
    finally:
        connection.close()


def on_starting(server: Any) -> None:
    from jdreview import metrics

    metrics.multiproc_dir_clean()


def child_exit(server: Any, worker: Any) -> None:
    from jdreview import metrics

    metrics.process_dead(worker.pid)
