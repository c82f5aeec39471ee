"""Annotation-loop benchmark: N simulated annotators against the real server stack.

Starts jdreview on PostgreSQL (a database of its own, created and dropped here, on the
server of ``DATABASE_URL`` or 127.0.0.1:5432) behind gunicorn, seeds one project per N
with small real PNG items and N annotators with tokens, and runs N annotators over HTTP,
each doing next-task + submit in a loop, for N = 1, 8 and 32. Afterwards it checks, from
the client's record and from the database, that no item went to more annotators than the
project's overlap and that every successful submit is stored. Label Studio 1.23.2 in its
default set-up, measured on the same 2-core machine, is printed for comparison.

The cost of metrics (jdreview/metrics.py) is measured in the same run: two gunicorns on the
same database, one without METRICS_TOKEN (no metrics) and one with it, take turns for each
N (off, on, on, off, ...: ``--rounds`` of each), and the table gives both throughputs, the
web CPU per iteration and their ratios; the first table is metrics off, as before.
``--metrics on`` or ``off`` runs one of them only. Last line: one JSON object for the
largest N.

    .venv/bin/python bench/annotation_loop.py [--quick] [--seconds 15] [--overlap 1]
        [--workers 2] [--worker-class gthread] [--threads 4] [--annotators 1,8,32]
        [--metrics both|on|off] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._load import LoadResult, percentile, run_load
from bench._stack import PYTHON, ROOT, CpuMeter, Server, Stack

DEFAULT_SERVER = "postgres://root@127.0.0.1:5432/postgres"
METRICS_TOKEN = "bench-metrics-token"

# Label Studio 1.23.2, default set-up, same machine: iterations/s and items handed to two
# annotators at once (overlap 1), by number of annotators.
LABEL_STUDIO = {1: (4.5, 0), 8: (5.9, 20), 32: (2.6, 20)}


def log(msg: str) -> None:
    print(msg, flush=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def count_over_overlap(handed: dict[int, set[int]], overlap: int) -> int:
    """Items the client saw handed to more distinct annotators than the overlap allows."""
    return sum(1 for users in handed.values() if len(users) > overlap)


def count_lost(submitted: list[tuple[int, int, int]], stored: set[tuple[int, int, int]]) -> int:
    """Accepted submits (assignment, user, item) with no live annotation stored for them."""
    return sum(1 for rec in submitted if rec not in stored)


def check_db(db_url: str, project_id: int, overlap: int, result: LoadResult) -> dict[str, int]:
    """Compare the client's record with what the database stored."""
    with psycopg.connect(db_url) as conn:
        over_db = conn.execute(
            """
            SELECT count(*) FROM (
                SELECT item_id FROM labeling_assignment
                WHERE project_id = %(p)s AND status <> 'expired'
                GROUP BY item_id HAVING count(DISTINCT user_id) > %(k)s
                UNION
                SELECT item_id FROM labeling_annotation
                WHERE project_id = %(p)s AND NOT undone
                GROUP BY item_id HAVING count(DISTINCT user_id) > %(k)s
            ) AS over
            """,
            {"p": project_id, "k": overlap},
        ).fetchone()[0]
        stored = set(
            conn.execute(
                "SELECT assignment_id, user_id, item_id FROM labeling_annotation "
                "WHERE project_id = %s AND NOT undone",
                (project_id,),
            ).fetchall()
        )
        # The queue's slot counter must agree with the holds and annotations it counts.
        claims_off = conn.execute(
            """
            SELECT count(*) FROM labeling_item i WHERE i.project_id = %s AND i.claims <> (
                SELECT count(*) FROM labeling_assignment a
                WHERE a.item_id = i.id AND a.status IN ('active', 'submitted'))
            """,
            (project_id,),
        ).fetchone()[0]
    over_client = count_over_overlap(result.handed, overlap)
    lost = count_lost(result.submitted, stored)
    return {
        "double_client": over_client,
        "double_db": over_db,
        "double_assigned": max(over_client, over_db),
        "lost": lost,
        "claims_off": claims_off,
        "stored": len(stored),
    }


def _items_needed(n: int, total_s: float, overlap: int) -> int:
    # Generous upper bound on throughput so the queue does not run dry; one annotator can
    # take each item only once, so the slots that help are min(overlap, n) per item.
    rate = 150 if n == 1 else 700
    return int(rate * total_s / min(overlap, n)) + 200


@dataclass
class Run:
    """One measured window of one N against one gunicorn."""

    result: LoadResult
    checks: dict[str, int]
    web_ms: float
    db_ms: float
    client_ms: float


def measure(
    stack: Stack,
    server: Server,
    project_id: int,
    users: list[dict],
    args: argparse.Namespace,
    warmup: float,
    seconds: float,
) -> Run:
    meter = CpuMeter(stack, server)
    cpu0, client0 = meter.sample(), time.process_time()
    res = run_load(
        base=server.base,
        project_id=project_id,
        users=users,
        warmup_s=warmup,
        seconds=seconds,
        think_s=args.think_ms / 1000,
    )
    client_ms = (time.process_time() - client0) * 1000
    web_ms, db_ms = CpuMeter.spent(cpu0, meter.sample())
    checks = check_db(stack.db_url, project_id, args.overlap, res)
    return Run(res, checks, web_ms, db_ms, client_ms)


def summarise(n: int, runs: list[Run], seconds: float) -> dict:
    """One row for N over the given runs (their windows added up)."""
    iterations = sum(r.result.iterations for r in runs)
    done = max(1, sum(len(r.result.submitted) for r in runs))  # CPU covers warm-ups too
    latencies = [x for r in runs for x in r.result.latencies_ms]
    return {
        "annotators": n,
        "iterations_per_s": round(iterations / (seconds * len(runs)), 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "next_p95_ms": round(percentile([x for r in runs for x in r.result.next_ms], 95), 1),
        "submit_p95_ms": round(percentile([x for r in runs for x in r.result.submit_ms], 95), 1),
        "errors": sum(sum(r.result.errors.values()) for r in runs),
        "ran_dry": sum(r.result.ran_dry for r in runs),
        "double_client": sum(r.checks["double_client"] for r in runs),
        # The database check covers the project's whole history: the last run's is all.
        "double_db": runs[-1].checks["double_db"],
        "double_assigned": max(
            sum(r.checks["double_client"] for r in runs), runs[-1].checks["double_db"]
        ),
        "lost": sum(r.checks["lost"] for r in runs),
        "claims_off": runs[-1].checks["claims_off"],
        "cpu_ms_web": round(sum(r.web_ms for r in runs) / done, 2),
        "cpu_ms_db": round(sum(r.db_ms for r in runs) / done, 2),
        "cpu_ms_client": round(sum(r.client_ms for r in runs) / done, 2),
    }


def scrape(server: Server) -> tuple[float, int]:
    """Milliseconds for one GET /metrics and the number of series it returned."""
    req = urllib.request.Request(
        f"{server.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read().decode()
    ms = (time.perf_counter() - t0) * 1000
    return ms, sum(1 for line in body.splitlines() if line and not line.startswith("#"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="~3 s per N and run, N = 1 and 8")
    ap.add_argument("--seconds", type=float, default=None, help="measured seconds per run (15)")
    ap.add_argument("--annotators", default=None, help="comma-separated N (1,8,32)")
    ap.add_argument("--overlap", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"])
    ap.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    ap.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean pause between iterations per annotator (0: ask again at once)",
    )
    ap.add_argument("--items", type=int, default=None, help="items per project (auto)")
    ap.add_argument(
        "--metrics",
        default="both",
        choices=["both", "on", "off"],
        help="measure with metrics off and on (both, taking turns), or one of them",
    )
    ap.add_argument("--rounds", type=int, default=2, help="measured runs per N and setting")
    args = ap.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 15.0)
    ns = [int(x) for x in (args.annotators or ("1,8" if args.quick else "1,8,32")).split(",")]
    warmup = 0.5 if args.quick else 1.5
    server_url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    phases = ["off", "on"] if args.metrics == "both" else [args.metrics]
    runs_per_n = len(phases) * args.rounds

    # Ctrl-C and kill both end in the cleanup below (a shell's "&" would ignore SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    stack = Stack(server_url)
    rows: dict[str, list[dict]] = {phase: [] for phase in phases}
    scrape_ms, series, added_us = float("nan"), 0, float("nan")
    try:
        log(f"creating database {stack.db} on {urlsplit(server_url).hostname}")
        stack.create()
        # The runs of one N share its project, one after another.
        items = args.items or runs_per_n * max(
            _items_needed(n, seconds + warmup, args.overlap) for n in ns
        )
        log(f"migrating and seeding: {max(ns)} annotators, {len(ns)} projects x {items} items")
        seeded = stack.seed(users=max(ns), items=items, projects=ns, overlap=args.overlap)
        log(f"  migrate {seeded['migrate_s']} s, seed {seeded['seed_s']} s")
        users = seeded["users"]
        servers: dict[str, Server] = {}
        for phase in phases:
            log(
                f"starting gunicorn, metrics {phase}: {args.workers} {args.worker_class} workers"
                + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
            )
            servers[phase] = stack.start(
                workers=args.workers,
                worker_class=args.worker_class,
                threads=args.threads,
                token=users[0]["token"],
                env={"METRICS_TOKEN": METRICS_TOKEN if phase == "on" else ""},
            )
        for n in ns:
            project_id = seeded["projects"][str(n)]
            log(f"N={n}: {runs_per_n} runs of {warmup} s warm-up + {seconds} s measured ...")
            runs: dict[str, list[Run]] = {phase: [] for phase in phases}
            for round_ in range(args.rounds):
                # off, on, on, off, ...: a drift in the machine's load falls on both alike.
                for phase in phases if round_ % 2 == 0 else phases[::-1]:
                    run = measure(
                        stack, servers[phase], project_id, users[:n], args, warmup, seconds
                    )
                    runs[phase].append(run)
                    done = max(1, len(run.result.submitted))
                    log(
                        f"  metrics {phase:<3} round {round_ + 1}: "
                        f"{run.result.iterations / seconds:.1f} it/s, web CPU "
                        f"{run.web_ms / done:.2f} ms/it"
                    )
                    if run.result.errors:
                        tail = servers[phase].log.read_text(errors="replace").splitlines()
                        log("  server log (last lines):\n" + "\n".join(tail[-40:]))
            for phase in phases:
                rows[phase].append(summarise(n, runs[phase], seconds))
            every = [run for phase in phases for run in runs[phase]]
            total = summarise(n, every, seconds)
            row = rows[phases[0]][-1]
            log(
                f"  {row['iterations_per_s']} it/s, p50 {row['p50_ms']} ms, p95 "
                f"{row['p95_ms']} ms (metrics {phases[0]}); over all {len(every)} runs: "
                f"double {total['double_assigned']} (client {total['double_client']}, db "
                f"{total['double_db']}), lost {total['lost']}, claims off "
                f"{total['claims_off']}, errors {total['errors']}, ran dry "
                f"{total['ran_dry']}; CPU ms/it: web {row['cpu_ms_web']}, db "
                f"{row['cpu_ms_db']}, client {row['cpu_ms_client']}"
            )
            if total["ran_dry"]:
                log("  WARNING: the queue ran dry; raise --items")
        if "on" in servers:
            scrape_ms, series = scrape(servers["on"])
            added_us = middleware_cost_us(stack)
    finally:
        log("cleaning up: gunicorn, database, media folder")
        stack.close()
    report(rows[phases[0]], args, seconds, phase=phases[0])
    if len(phases) == 2:
        report_metrics_cost(rows["off"], rows["on"], scrape_ms, series, added_us)
    last = max(rows[phases[0]], key=lambda r: r["annotators"])
    summary = {
        k: last[k]
        for k in (
            "annotators",
            "iterations_per_s",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "double_assigned",
            "lost",
        )
    }
    summary["metrics"] = phases[0] if len(phases) == 1 else "off"
    if len(phases) == 2:
        on = max(rows["on"], key=lambda r: r["annotators"])
        summary.update(
            metrics_on_iterations_per_s=on["iterations_per_s"],
            metrics_on_over_off=_ratio(on["iterations_per_s"], last["iterations_per_s"]),
            metrics_web_cpu_on_over_off=_ratio(on["cpu_ms_web"], last["cpu_ms_web"]),
            metrics_us_per_request=added_us,
            double_assigned=max(last["double_assigned"], on["double_assigned"]),
            lost=last["lost"] + on["lost"],
        )
    log(json.dumps(summary))


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def middleware_cost_us(stack: Stack) -> float:
    """Microseconds the metrics middleware adds to a request (bench/_metrics_cost.py)."""
    out = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "_metrics_cost.py")],
        env={**stack.env(), "METRICS_TOKEN": METRICS_TOKEN},
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        timeout=300,
    )
    return json.loads(out.stdout.decode().strip().splitlines()[-1])["us_added"]


def report_metrics_cost(
    off: list[dict], on: list[dict], scrape_ms: float, series: int, added_us: float
) -> None:
    log("")
    log(
        "Cost of metrics (goal: on within 5% of off), same run, runs taking turns; web CPU "
        "is gunicorn's CPU time per iteration (less swayed by other load than it/s):"
    )
    head = (
        f"{'N':>4}{'off it/s':>10}{'on it/s':>10}{'on/off':>8}"
        f"{'web CPU off':>13}{'web CPU on':>12}{'on/off':>8}"
    )
    log(head)
    log("-" * len(head))
    for a, b in zip(off, on, strict=True):
        log(
            f"{a['annotators']:>4}{a['iterations_per_s']:>10.1f}{b['iterations_per_s']:>10.1f}"
            f"{_ratio(b['iterations_per_s'], a['iterations_per_s']) or float('nan'):>8.3f}"
            f"{a['cpu_ms_web']:>13.2f}{b['cpu_ms_web']:>12.2f}"
            f"{_ratio(b['cpu_ms_web'], a['cpu_ms_web']) or float('nan'):>8.3f}"
        )
    log(f"one scrape of /metrics afterwards: {scrape_ms:.0f} ms, {series} series")
    web_ms = min(r["cpu_ms_web"] for r in off)
    share = f", {2 * added_us / 10 / web_ms:.2f}% of {web_ms:.1f} ms" if web_ms else ""
    log(
        f"the middleware alone, timed in one process: +{added_us:.1f} us per request"
        f"{share} of web CPU per iteration (2 requests)"
    )


def report(rows: list[dict], args: argparse.Namespace, seconds: float, phase: str) -> None:
    log("")
    log(
        f"jdreview on gunicorn ({args.workers} {args.worker_class}"
        + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
        + f") + PostgreSQL, metrics {phase}, overlap {args.overlap}, {args.rounds} x "
        f"{seconds:g} s per N, think time {args.think_ms:g} ms; p50/p95/p99 are of "
        "next-task + submit"
    )
    head = (
        f"{'system':<14}{'N':>4}{'it/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'next p95':>10}{'subm p95':>10}{'double':>8}{'lost':>6}{'errors':>8}"
        f"{'cpu ms/it web+db+client':>26}"
    )
    log(head)
    log("-" * len(head))
    for r in rows:
        log(
            f"{'jdreview':<14}{r['annotators']:>4}{r['iterations_per_s']:>9.1f}"
            f"{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['p99_ms']:>9.1f}"
            f"{r['next_p95_ms']:>10.1f}{r['submit_p95_ms']:>10.1f}"
            f"{r['double_assigned']:>8}{r['lost']:>6}{r['errors']:>8}"
            f"{r['cpu_ms_web']:>12.1f} +{r['cpu_ms_db']:>5.1f} +{r['cpu_ms_client']:>5.1f}"
        )
    log(
        "(cpu ms/it: CPU time per iteration of gunicorn, of this database's PostgreSQL "
        "backends and of the load client; 2 cores / total = the iterations/s this machine "
        "could give when nothing else runs on it)"
    )
    log("")
    log(
        "Label Studio 1.23.2, default set-up, same machine (published figures of an earlier"
        " run; ratio = jdreview it/s / Label Studio it/s):"
    )
    for r in rows:
        ls = LABEL_STUDIO.get(r["annotators"])
        if ls is None:
            continue
        log(
            f"{'label-studio':<14}{r['annotators']:>4}{ls[0]:>9.1f}{'':>36}{'':>10}"
            f"{'~' + str(ls[1]):>8}   jdreview/LS = {r['iterations_per_s'] / ls[0]:.1f}x"
        )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        log("interrupted; cleaned up")
        sys.exit(130)
