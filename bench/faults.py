"""Fault benchmark: the annotation load while the broker, the database and a worker fail.

Starts, on 127.0.0.1 and in a temp folder, a PostgreSQL cluster and a redis-server of its
own, jdreview behind gunicorn, a Celery worker and a beat-equivalent dispatcher, and runs
N simulated annotators (next + submit over HTTP, as bench/annotation_loop.py) for
--seconds. Meanwhile it:

1. stops Redis for --redis-down-s and starts it again, empty (no persistence): labeling
   must go on (the queue lives in PostgreSQL), and two light jobs made over HTTP while it
   is down must be answered at once, then run once it is back;
2. restarts PostgreSQL (``pg_ctl restart -m fast``): requests may get 503 meanwhile;
3. SIGKILLs the worker's pool process in the middle of a train_rewards job on a tiny
   world: the job must end retried-and-succeeded or failed, and the live model must stay
   as it was (files and row) until a finished run replaces it.

Throughout, it polls ``/readyz`` (every 0.2 s): it must turn 503 naming the broken
dependency (``broker``, ``database``) within 10 s of each fault and answer 200 again within
10 s of the service's return (``readyz_tracks_outage``).

Afterwards it checks from the database that no accepted submit is missing and nothing was
handed out twice, counts 5xx answers outside the outage windows, and prints a table and,
last, one JSON line. Everything it started is stopped and removed, also on Ctrl-C.

    .venv/bin/python bench/faults.py [--seconds 90] [--annotators 32] [--redis-down-s 15]
        [--epochs 12] [--workers 2] [--threads 4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._faults import (
    Readyz,
    Window,
    count_load,
    live_intact,
    readyz_failing_outside,
    readyz_tracks,
    recovery_s,
)
from bench._faults_probe import Probe
from bench._faults_stack import PgCluster, Process, RedisServer, celery_worker, dispatcher
from bench._load import run_load
from bench._stack import PYTHON, ROOT, Stack
from bench.annotation_loop import check_db

GRACE_S = 1.0  # after a service is back, for the requests in flight across its return
JOB_WAIT_S = 240.0  # after the load, for the jobs the faults left to finish
LIGHT_JOB = {"kind": "worker_check", "params": {"seconds": 1}}
READYZ_WITHIN_S = 10.0  # to turn 503 after a fault, and 200 after the recovery
READYZ_EVERY_S = 0.2
# The check of /readyz that each fault must fail.
READYZ_CHECK = {"redis": "broker", "postgres": "database"}


def log(msg: str) -> None:
    print(msg, flush=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass
class Plan:
    """When each fault starts, in seconds from the start of the load."""

    redis_stop: float
    redis_down: float
    pg_restart: float
    worker_kill: float

    @classmethod
    def for_run(cls, seconds: float, redis_down: float) -> Plan:
        redis_stop = max(5.0, 0.1 * seconds)
        pg = redis_stop + redis_down + max(8.0, 0.12 * seconds)
        plan = cls(redis_stop, redis_down, pg, pg + max(8.0, 0.1 * seconds))
        if plan.worker_kill + 15 > seconds:
            raise SystemExit(
                f"--seconds {seconds:g} is too short for the faults: at least "
                f"{plan.worker_kill + 15:.0f} with --redis-down-s {redis_down:g}"
            )
        return plan


class ReadyzPoller:
    """Asks /readyz every READYZ_EVERY_S in a thread of its own, keeping every answer."""

    def __init__(self, base: str) -> None:
        self.url = f"{base}/readyz"
        self.samples: list[Readyz] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def probe(self) -> Readyz:
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(self.url, timeout=5) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except OSError:
            status, raw = 0, b""
        try:
            failing = tuple(json.loads(raw).get("failing", ()))
        except ValueError:
            failing = ()
        return (t0, time.perf_counter(), status, failing)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(self.probe())
            self.stop.wait(READYZ_EVERY_S)

    def wait_ready(self, timeout: float) -> Readyz:
        deadline = time.monotonic() + timeout
        while True:
            sample = self.probe()
            if sample[2] == 200 or time.monotonic() > deadline:
                return sample
            time.sleep(0.5)


@dataclass
class Seen:
    """What the fault thread did and saw."""

    windows: list[Window] = field(default_factory=list)
    redis_back_wall: float | None = None
    outage_jobs: list[dict[str, Any]] = field(default_factory=list)
    train_job: int | None = None
    train_create_ms: int | None = None  # the same request with Redis up, for comparison
    kill: dict[str, Any] = field(default_factory=dict)
    live_after_kill: dict[str, tuple[int, str]] = field(default_factory=dict)
    readyz_ready_before: bool = False
    readyz: list[Readyz] = field(default_factory=list)
    error: BaseException | None = None


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.root = Path(tempfile.mkdtemp(prefix="jdreview-faults-"))
        self.pg = PgCluster(self.root)
        self.redis = RedisServer(self.root)
        self.artifacts = self.root / "artifacts"
        self.stack = Stack(
            self.pg.url(),
            extra_env={
                "REDIS_URL": self.redis.url,
                "JDREVIEW_ARTIFACT_ROOT": str(self.artifacts),
                # Short intervals, so a run of a minute or two shows the recovery paths.
                "JOB_REDISPATCH_AFTER_S": "3",
                "JOB_HEARTBEAT_TIMEOUT_S": "60",
            },
        )
        self.workers: list[Process] = []
        self.beat: Process | None = None
        self.probe: Probe | None = None
        self.t0 = 0.0
        self.stop = threading.Event()

    # -- services ------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        args = self.args
        log(
            f"starting PostgreSQL (port {self.pg.port}) and Redis (port {self.redis.port})"
            f" in {self.root}"
        )
        self.pg.start()
        self.redis.start()
        self.stack.create()
        # Generous: about 50 iterations/s were seen on 2 shared cores; running dry is reported.
        items = args.items or int(200 * args.seconds) + 1000
        log(f"migrating and seeding: {args.annotators} annotators, {items} items")
        seeded = self.stack.seed(
            users=args.annotators, items=items, projects=["faults"], overlap=args.overlap
        )
        log(f"  migrate {seeded['migrate_s']} s, seed {seeded['seed_s']} s")
        log("seeding a tiny trainable world and its live shape model")
        out = self._django("world", "--images", str(args.world_images))
        world = json.loads(out.strip().splitlines()[-1])
        log(f"  {world['seconds']} s, live versions {world['live']}")
        log(
            f"starting gunicorn ({args.workers} gthread x {args.threads}), a Celery worker"
            " and the dispatcher"
        )
        self.stack.start(
            workers=args.workers,
            worker_class="gthread",
            threads=args.threads,
            token=seeded["users"][0]["token"],
        )
        self.probe = Probe(
            db_url=self.stack.db_url,
            base=self.stack.base,
            artifacts=self.artifacts,
            project=world["project"],
            token=world["manager_token"],
        )
        self.start_worker()
        self.beat = dispatcher(self.stack.env(), self.root / "dispatcher.log", every_s=1.0)
        self.beat.start()
        return seeded

    def _django(self, *argv: str) -> str:
        return subprocess.run(
            [PYTHON, str(ROOT / "bench" / "_faults_app.py"), *argv],
            env=self.stack.env(),
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            timeout=600,
        ).stdout.decode()

    def start_worker(self) -> Process:
        worker = celery_worker(self.stack.env(), self.root / "worker.log", len(self.workers))
        worker.start()
        self.workers.append(worker)
        return worker

    def keep_logs(self, into: Path) -> None:
        into.mkdir(parents=True, exist_ok=True)
        logs = [*self.root.glob("*.log")]
        if self.stack.server_log is not None:
            logs.append(self.stack.server_log)
        for path in logs:
            if path.exists():
                shutil.copy(path, into / path.name)
        log(f"logs copied to {into}")

    def close(self) -> None:
        # Each step runs even if an earlier one failed: leave nothing behind.
        steps = [
            *(w.stop for w in self.workers),
            *([self.beat.stop] if self.beat else []),
            self.stack.close,
            self.redis.stop,
            self.pg.stop,
        ]
        for step in steps:
            try:
                step()
            except Exception as exc:
                log(f"  cleanup step failed: {exc!r}")
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def app(self) -> Probe:
        assert self.probe is not None, "started"
        return self.probe

    def rel(self) -> str:
        return f"t={time.perf_counter() - self.t0:5.1f}s"

    def warm_up(self) -> None:
        """A light job end to end, so the worker is known to serve before the faults."""
        probe = self.app
        made = probe.create_job(**LIGHT_JOB)
        done = probe.wait(lambda: (j := probe.job(made["id"])) and j["status"] == "succeeded", 180)
        if not done:
            raise RuntimeError(
                "the worker did not run a light job:\n" + self.workers[-1].log_tail()
            )

    # -- the faults ----------------------------------------------------------------------------

    def _at(self, t: float) -> None:
        delay = self.t0 + t - time.perf_counter()
        if delay > 0 and self.stop.wait(delay):
            raise InterruptedError("the load ended before this fault")

    def faults(self, plan: Plan, seen: Seen) -> None:
        try:
            self._redis_outage(plan, seen)
            self._postgres_restart(plan, seen)
            self._worker_kill(plan, seen)
        except BaseException as exc:  # reported by the main thread after the load
            seen.error = exc

    def _redis_outage(self, plan: Plan, seen: Seen) -> None:
        self._at(plan.redis_stop)
        log(f"[{self.rel()}] redis: stopping for {plan.redis_down:g} s")
        start = time.perf_counter()
        self.redis.stop()
        for when in (2.0, plan.redis_down - 3.0):
            self._at(plan.redis_stop + when)
            made = self.app.create_job(**LIGHT_JOB)
            seen.outage_jobs.append(made)
            log(
                f"[{self.rel()}] redis down: made job #{made['id']} over HTTP: "
                f"{made['status_code']} in {made['ms']} ms"
            )
        self._at(plan.redis_stop + plan.redis_down)
        self.redis.start()
        back = time.perf_counter()
        seen.redis_back_wall = time.time()
        seen.windows.append(Window("redis", start, back))
        log(f"[{self.rel()}] redis: started again (empty)")
        ids = [j["id"] for j in seen.outage_jobs if j["id"]]
        started = self.app.wait(
            lambda: all((j := self.app.job(pk)) and j["started_at"] for pk in ids),
            timeout=max(1.0, plan.pg_restart - plan.redis_stop - plan.redis_down - 1),
        )
        log(
            f"[{self.rel()}] redis: jobs made while it was down "
            + ("have started" if started else "have NOT started yet")
        )

    def _postgres_restart(self, plan: Plan, seen: Seen) -> None:
        self._at(plan.pg_restart)
        log(f"[{self.rel()}] postgres: pg_ctl restart -m fast")
        start = time.perf_counter()
        self.pg.restart()
        back = time.perf_counter()
        seen.windows.append(Window("postgres", start, back))
        log(f"[{self.rel()}] postgres: back after {back - start:.2f} s")

    def _worker_kill(self, plan: Plan, seen: Seen) -> None:
        self._at(plan.worker_kill)
        made = self.app.create_job(
            "train_rewards", {"aspects": ["shape"], "epochs": self.args.epochs}
        )
        seen.train_job, seen.train_create_ms = made["id"], made["ms"]
        log(
            f"[{self.rel()}] worker: made train_rewards job #{made['id']} "
            f"({made['status_code']}); waiting for its first epoch"
        )
        if made["id"] is None:
            raise RuntimeError(f"could not make the training job: {made}")
        running = self.app.wait(
            lambda: (j := self.app.job(made["id"])) and j["progress"] > 0 and j, timeout=180
        )
        if not running:
            raise RuntimeError("the training job did not start:\n" + self.workers[-1].log_tail())
        pid = int(running["worker"].rsplit(":", 1)[1])
        worker = self.workers[-1]
        if pid not in worker.children():
            raise RuntimeError(f"job #{made['id']} runs in pid {pid}, not a child of the worker")
        os.kill(pid, signal.SIGKILL)
        seen.kill = {"pid": pid, "progress": round(running["progress"], 3), "t": self.rel()}
        log(
            f"[{self.rel()}] worker: SIGKILL to pool process {pid} at progress "
            f"{running['progress']:.0%} of attempt {running['attempts']}"
        )
        # The master reaps the dead process (until then it lingers as a zombie) and forks
        # another; should the master go too, a new worker takes over.
        replaced = self.app.wait(
            lambda: not worker.alive() or ((kids := worker.children()) and pid not in kids),
            timeout=15,
        )
        if not worker.alive() or not replaced:
            log(f"[{self.rel()}] worker: no replacement pool process; starting a new worker")
            self.start_worker()
        else:
            log(
                f"[{self.rel()}] worker: its master is up and forked a new pool process "
                f"{worker.children()}"
            )
        seen.live_after_kill = self.app.live_models()

    # -- after the load --------------------------------------------------------------------

    def wait_for_jobs(self, seen: Seen) -> dict[int, dict[str, Any]]:
        ids = [j["id"] for j in seen.outage_jobs if j["id"]]
        if seen.train_job:
            ids.append(seen.train_job)
        deadline = time.monotonic() + JOB_WAIT_S
        last_note = 0.0
        while True:
            states = {pk: self.app.job(pk) or {"status": "missing"} for pk in ids}
            pending = {
                pk: s["status"] for pk, s in states.items() if s["status"] in ("queued", "running")
            }
            if not pending or time.monotonic() > deadline:
                return states
            if time.monotonic() - last_note > 15:
                log(f"  waiting for jobs: {pending}")
                last_note = time.monotonic()
            time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=90.0, help="length of the load")
    ap.add_argument("--annotators", type=int, default=32)
    ap.add_argument("--redis-down-s", type=float, default=15.0)
    ap.add_argument("--epochs", type=int, default=12, help="of the training job that is killed")
    ap.add_argument("--world-images", type=int, default=80)
    ap.add_argument("--overlap", type=int, default=1)
    ap.add_argument("--items", type=int, default=None, help="items in the load's queue (auto)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    ap.add_argument("--logs", type=Path, default=None, help="copy the services' logs here")
    args = ap.parse_args()
    plan = Plan.for_run(args.seconds, args.redis_down_s)
    if os.geteuid() != 0:
        raise SystemExit("run as root: the PostgreSQL cluster is made as the postgres user")

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # Self-stopping: whatever hangs, the run ends (and cleans up) after this long.
    signal.signal(signal.SIGALRM, _raise_interrupt)
    signal.alarm(int(args.seconds + JOB_WAIT_S + 900))
    wall0 = time.perf_counter()
    bench = Bench(args)
    seen = Seen()
    try:
        seeded = bench.start()
        project_id = seeded["projects"]["faults"]
        log("warm-up: a light job end to end through the worker")
        bench.warm_up()
        readyz = ReadyzPoller(bench.stack.base)
        first = readyz.wait_ready(timeout=90)
        seen.readyz_ready_before = first[2] == 200
        log(f"/readyz before the faults: {first[2]} {list(first[3]) or ''}")
        readyz.thread.start()
        live_before = bench.app.live_models()
        log(
            f"load: {args.annotators} annotators for {args.seconds:g} s; faults at t="
            f"{plan.redis_stop:g} (redis, {plan.redis_down:g} s), {plan.pg_restart:g} "
            f"(postgres), {plan.worker_kill:g} (worker)"
        )
        bench.t0 = time.perf_counter()
        thread = threading.Thread(target=bench.faults, args=(plan, seen), daemon=True)
        thread.start()
        res = run_load(
            base=bench.stack.base,
            project_id=project_id,
            users=seeded["users"],
            warmup_s=0.0,
            seconds=args.seconds,
        )
        bench.stop.set()
        readyz.stop.set()
        log(f"[{bench.rel()}] load done: {len(res.submitted)} submits accepted")
        seen.readyz = readyz.samples
        thread.join(timeout=240)
        if seen.error is not None:
            raise RuntimeError(f"a fault step failed: {seen.error!r}") from seen.error
        log("waiting for the jobs the faults left")
        jobs = bench.wait_for_jobs(seen)
        checks = check_db(bench.stack.db_url, project_id, args.overlap, res)
        counts = count_load(
            submitted=res.submitted,
            handed=res.handed,
            holders=res.holders,
            requests=res.requests,
            stored=bench.app.stored(project_id),
            double_db=checks["double_db"] + bench.app.shared_assignments(project_id),
            overlap=args.overlap,
            windows=seen.windows,
            grace_s=GRACE_S,
        )
        summary = summarize(
            bench.app, seen, jobs, counts, live_before, res.requests, checks, res.ran_dry
        )
        if summary["http_5xx_outside_outage"] or summary["lost"]:
            log("server log (last lines):\n" + bench.stack.server_log_tail())
    finally:
        log("cleaning up: dispatcher, worker, gunicorn, database, Redis, PostgreSQL")
        if args.logs:
            bench.keep_logs(args.logs)
        bench.close()
    signal.alarm(0)
    report(summary, seen, time.perf_counter() - wall0)


def summarize(
    probe: Probe,
    seen: Seen,
    jobs: dict[int, dict[str, Any]],
    counts: dict[str, Any],
    live_before: dict[str, tuple[int, str]],
    requests: list,
    checks: dict[str, int],
    ran_dry: int,
) -> dict[str, Any]:
    by_name = {w.name: w for w in seen.windows}
    outage = seen.outage_jobs
    # A job made while Redis was down is lost if the request failed or it never succeeded.
    jobs_lost = sum(
        1 for j in outage if j["id"] is None or jobs.get(j["id"], {}).get("status") != "succeeded"
    )
    job_delay = None
    if (
        seen.redis_back_wall is not None
        and outage
        and all(j["id"] and jobs[j["id"]].get("started_at") for j in outage)
    ):
        job_delay = max(
            jobs[j["id"]]["started_at"].timestamp() - seen.redis_back_wall for j in outage
        )
    redis_w, pg_w = by_name.get("redis"), by_name.get("postgres")
    end = max((t1 for _, t1, _, _ in requests), default=0.0)
    # Labeling needs no Redis: from the moment it is back, only the jobs had to recover.
    labeling_redis = (
        recovery_s(
            requests, Window("redis", redis_w.back, redis_w.back), pg_w.start if pg_w else end
        )
        if redis_w
        else None
    )
    recovery_redis = (
        None if job_delay is None or labeling_redis is None else max(job_delay, labeling_redis)
    )
    train = jobs.get(seen.train_job or -1, {})
    succeeded = bool(seen.train_job) and train.get("status") == "succeeded"
    replaced_by = probe.versions_of_job(seen.train_job) if seen.train_job and succeeded else set()
    live_after = probe.live_models()
    before_again = probe.artifact_hashes([pk for pk, _ in live_before.values()])
    intact = live_intact(live_before, live_after, before_again, replaced_by) and (
        seen.live_after_kill == live_before
    )
    submits_in_redis = (
        sum(
            1
            for t0, t1, op, s in requests
            if op == "submit" and 200 <= s < 300 and redis_w.holds(t0, t1, 0.0)
        )
        if redis_w
        else 0
    )
    readyz = {}
    for w in seen.windows:
        turned, back = readyz_tracks(seen.readyz, w, READYZ_CHECK[w.name], until=end)
        readyz[w.name] = {
            "turned_503_s": None if turned is None else round(turned, 2),
            "back_200_s": None if back is None else round(back, 2),
        }
    tracks = (
        seen.readyz_ready_before
        and len(readyz) == len(READYZ_CHECK)
        and all(
            r["turned_503_s"] is not None
            and r["turned_503_s"] <= READYZ_WITHIN_S
            and r["back_200_s"] is not None
            and r["back_200_s"] <= READYZ_WITHIN_S
            for r in readyz.values()
        )
    )
    return {
        **counts,
        "readyz_tracks_outage": tracks,
        "readyz": readyz,
        "readyz_failing_outside_outage": readyz_failing_outside(seen.readyz, seen.windows),
        "readyz_answers": len(seen.readyz),
        "recovery_s_redis": None if recovery_redis is None else round(recovery_redis, 2),
        "recovery_s_postgres": recovery_s(requests, pg_w, end) if pg_w else None,
        "jobs_lost": jobs_lost,
        "live_model_intact": intact,
        # details for the table
        "claims_off": checks["claims_off"],
        "ran_dry": ran_dry,
        "submits_during_redis_outage": submits_in_redis,
        "outage_job_create_ms": [j["ms"] for j in outage],
        "job_create_ms_redis_up": seen.train_create_ms,
        "outage_job_status": [jobs.get(j["id"], {}).get("status") for j in outage],
        "outage_job_start_after_redis_s": None if job_delay is None else round(job_delay, 2),
        "train_job": {
            "status": train.get("status"),
            "attempts": train.get("attempts"),
            "retried": "died; retrying" in (train.get("log_tail") or ""),
            "error": (train.get("error") or "").split("\n")[0][:120],
        },
        "live_before": {a: v[0] for a, v in live_before.items()},
        "live_after": {a: v[0] for a, v in live_after.items()},
    }


KEYS = (
    "submits_ok",
    "lost",
    "double_assigned",
    "http_5xx_outside_outage",
    "recovery_s_redis",
    "recovery_s_postgres",
    "jobs_lost",
    "live_model_intact",
    "readyz_tracks_outage",
)


def _goal(key: str, value: Any) -> tuple[str, bool]:
    if key in ZERO:
        return "0", value == 0
    if key.startswith("recovery_s"):
        return "< 10", value is not None and value < 10
    if key in ("live_model_intact", "readyz_tracks_outage"):
        return "true", value is True
    return "", True


ZERO = (
    "lost",
    "double_assigned",
    "http_5xx_outside_outage",
    "jobs_lost",
    "http_other_5xx_in_outage",
    "no_answer_outside_outage",
    "claims_off",
    "ran_dry",
)
DETAILS = (
    "http_503_in_outage",
    "http_other_5xx_in_outage",
    "no_answer_in_outage",
    "no_answer_outside_outage",
    "claims_off",
    "ran_dry",
    "submits_during_redis_outage",
    "outage_job_create_ms",
    "job_create_ms_redis_up",
    "outage_job_status",
    "outage_job_start_after_redis_s",
    "train_job",
    "live_before",
    "live_after",
    "readyz",
    "readyz_failing_outside_outage",
    "readyz_answers",
)


def report(summary: dict[str, Any], seen: Seen, wall_s: float) -> None:
    log("")
    for w in seen.windows:
        log(f"{w.name}: down {w.back - w.start:.2f} s")
    log(
        f"worker: SIGKILL to pool process {seen.kill.get('pid')} at {seen.kill.get('t')}, "
        f"training progress {seen.kill.get('progress')}"
    )
    log("")
    head = f"{'metric':<32}{'goal':<7}{'ok':<5}value"
    log(head)
    log("-" * 72)
    for key in (*KEYS, *DETAILS):
        value = summary[key]
        goal, ok = _goal(key, value)
        text = json.dumps(value) if isinstance(value, dict | list) else str(value)
        log(f"{key:<32}{goal:<7}{'yes' if ok else 'NO':<5}{text}")
    log(f"(wall time {wall_s:.0f} s)")
    log("")
    log(json.dumps({k: summary[k] for k in KEYS}))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        log("interrupted; cleaned up")
        sys.exit(130)
