"""What the request-metrics middleware adds to one request, timed in one process: the
same trivial view called through the middleware and without it, many times, taking turns.

Run by ``bench/annotation_loop.py`` in the stack's environment (its own multiprocess
folder); prints one JSON line: microseconds per request with and without, and the
difference. Over HTTP the difference drowns in the noise of a shared machine; here it
does not.

    METRICS_TOKEN=x python bench/_metrics_cost.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jdreview.settings")
os.environ.setdefault("METRICS_TOKEN", "bench-metrics-token")

import django

django.setup()

from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.urls import resolve  # noqa: E402

from jdreview.metrics import RequestMetricsMiddleware  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    request = RequestFactory().post("/api/tasks/1/submit/")
    match = resolve("/api/tasks/1/submit/")
    response = HttpResponse(status=201)

    def view(req):  # type: ignore[no-untyped-def]
        req.resolver_match = match  # what URL resolution sets before the view runs
        return response

    wrapped = RequestMetricsMiddleware(view)
    best = {"off": float("inf"), "on": float("inf")}
    for _ in range(args.rounds):
        for name, call in (("off", view), ("on", wrapped)):
            t0 = time.perf_counter()
            for _ in range(args.calls):
                call(request)
            best[name] = min(best[name], (time.perf_counter() - t0) / args.calls * 1e6)
    print(
        json.dumps(
            {
                "us_per_request_off": round(best["off"], 2),
                "us_per_request_on": round(best["on"], 2),
                "us_added": round(best["on"] - best["off"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
