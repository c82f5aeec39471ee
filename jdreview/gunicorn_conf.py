"""gunicorn settings used by ``./dev.sh up`` (and a production start: ``-c`` this file).

Each web worker starts loading the live query-expansion models as soon as it has booted,
so the first search after a deploy is not the one that pays for the load.
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
