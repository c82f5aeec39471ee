"""Annotation-loop benchmark: N simulated annotators against the real server stack.

Starts jdreview on PostgreSQL (a database of its own, created and dropped here, on the
server of ``DATABASE_URL`` or 127.0.0.1:5432) behind gunicorn, seeds one project per N
with small real PNG items and N annotators with tokens, and runs N annotators over HTTP,
each doing next-task + submit in a loop, for N = 1, 8 and 32. Afterwards it checks, from
the client's record and from the database, that no item went to more annotators than the
project's overlap and that every successful submit is stored. Label Studio 1.23.2 in its
default set-up, measured on the same 2-core machine, is printed for comparison.
Last line: one JSON object for the largest N.

    .venv/bin/python bench/annotation_loop.py [--quick] [--seconds 15] [--overlap 1]
        [--workers 2] [--worker-class gthread] [--threads 4] [--annotators 1,8,32]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._load import LoadResult, percentile, run_load
from bench._stack import CpuMeter, Stack

DEFAULT_SERVER = "postgres://root@127.0.0.1:5432/postgres"

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="~3 s per N, N = 1 and 8")
    ap.add_argument("--seconds", type=float, default=None, help="measured seconds per N (15)")
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
    args = ap.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 15.0)
    ns = [int(x) for x in (args.annotators or ("1,8" if args.quick else "1,8,32")).split(",")]
    warmup = 0.5 if args.quick else 1.5
    server_url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER

    # Ctrl-C and kill both end in the cleanup below (a shell's "&" would ignore SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    stack = Stack(server_url)
    rows: list[dict] = []
    try:
        log(f"creating database {stack.db} on {urlsplit(server_url).hostname}")
        stack.create()
        items = args.items or max(_items_needed(n, seconds + warmup, args.overlap) for n in ns)
        log(f"migrating and seeding: {max(ns)} annotators, {len(ns)} projects x {items} items")
        seeded = stack.seed(users=max(ns), items=items, projects=ns, overlap=args.overlap)
        log(f"  migrate {seeded['migrate_s']} s, seed {seeded['seed_s']} s")
        users = seeded["users"]
        log(
            f"starting gunicorn: {args.workers} {args.worker_class} workers"
            + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
        )
        stack.start(
            workers=args.workers,
            worker_class=args.worker_class,
            threads=args.threads,
            token=users[0]["token"],
        )
        meter = CpuMeter(stack)
        for n in ns:
            project_id = seeded["projects"][str(n)]
            log(f"N={n}: {warmup} s warm-up + {seconds} s measured ...")
            cpu0, client0 = meter.sample(), time.process_time()
            res = run_load(
                base=stack.base,
                project_id=project_id,
                users=users[:n],
                warmup_s=warmup,
                seconds=seconds,
                think_s=args.think_ms / 1000,
            )
            client_ms = (time.process_time() - client0) * 1000
            web_ms, db_ms = CpuMeter.spent(cpu0, meter.sample())
            done = max(1, len(res.submitted))  # the CPU covers warm-up iterations too
            checks = check_db(stack.db_url, project_id, args.overlap, res)
            row = {
                "annotators": n,
                "iterations_per_s": round(res.iterations / seconds, 1),
                "p50_ms": round(percentile(res.latencies_ms, 50), 1),
                "p95_ms": round(percentile(res.latencies_ms, 95), 1),
                "p99_ms": round(percentile(res.latencies_ms, 99), 1),
                "next_p95_ms": round(percentile(res.next_ms, 95), 1),
                "submit_p95_ms": round(percentile(res.submit_ms, 95), 1),
                "errors": sum(res.errors.values()),
                "ran_dry": res.ran_dry,
                **checks,
                "cpu_ms_web": round(web_ms / done, 2),
                "cpu_ms_db": round(db_ms / done, 2),
                "cpu_ms_client": round(client_ms / done, 2),
            }
            rows.append(row)
            log(
                f"  {row['iterations_per_s']} it/s, p50 {row['p50_ms']} ms, p95 "
                f"{row['p95_ms']} ms, double {checks['double_assigned']} (client "
                f"{checks['double_client']}, db {checks['double_db']}), lost "
                f"{checks['lost']}, claims off {checks['claims_off']}, errors "
                f"{res.errors or 0}, ran dry {res.ran_dry}; CPU ms/it: web "
                f"{row['cpu_ms_web']}, db {row['cpu_ms_db']}, client {row['cpu_ms_client']}"
            )
            if res.errors:
                log("  server log (last lines):\n" + stack.server_log_tail())
            if res.ran_dry:
                log("  WARNING: the queue ran dry; raise --items")
    finally:
        log("cleaning up: gunicorn, database, media folder")
        stack.close()
    report(rows, args, seconds)


def report(rows: list[dict], args: argparse.Namespace, seconds: float) -> None:
    log("")
    log(
        f"jdreview on gunicorn ({args.workers} {args.worker_class}"
        + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
        + f") + PostgreSQL, overlap {args.overlap}, {seconds:g} s per N, think time "
        f"{args.think_ms:g} ms; p50/p95/p99 are of next-task + submit"
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
    log("")
    last = max(rows, key=lambda r: r["annotators"])
    log(
        json.dumps(
            {
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
        )
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        log("interrupted; cleaned up")
        sys.exit(130)
