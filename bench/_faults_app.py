"""Django side of the fault benchmark, run as its own process with the stack's environment.

python bench/_faults_app.py world --images 80 --seed 5
    A tiny trainable project (a seeded world, simulated labels, a live shape model
    trained for one epoch) and a manager with a token; prints one JSON line.
python bench/_faults_app.py beat --every 1
    Beat's job-dispatch entry on a short period, until stopped: sends the dispatch
    task through the broker, and keeps going while the broker is down. Like beat, it
    also records that it ran and sends each queue its heartbeat task (/readyz).
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

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from jdreview.models import Membership, Project  # noqa: E402
from jdreview.roles import Role, ensure_role_groups  # noqa: E402
from labeling.world_seed import simulate_labels, world_seed  # noqa: E402
from rewards.training import train_aspects  # noqa: E402
from workers.heartbeats import beat_mark  # noqa: E402
from workers.services import SEND_ERRORS  # noqa: E402
from workers.tasks import dispatch_queued_jobs, heartbeat, reap_stale_jobs  # noqa: E402

HEARTBEAT_EVERY_S = 5.0


def world(images: int, seed: int) -> None:
    t0 = time.perf_counter()
    project = Project.objects.create(
        name="Faults world", slug="faults-world", overlap=1, gold_share=0.0
    )
    manager = get_user_model().objects.create(
        username="faults-manager", password=make_password(None)
    )
    manager.groups.add(ensure_role_groups()[Role.MANAGER])
    Membership.objects.create(project=project, user=manager)
    world_seed(project=project, images=images, seed=seed, gold_share=0.0)
    simulate_labels(project=project, reviewers=2, labels=images, seed=seed)
    (live,) = train_aspects(project=project, aspects=["shape"], epochs=1)
    print(
        json.dumps(
            {
                "project": project.pk,
                "manager_token": Token.objects.create(user=manager).key,
                "live": {live.aspect: live.pk},
                "seconds": round(time.perf_counter() - t0, 1),
            }
        ),
        flush=True,
    )


def beat(every_s: float) -> None:
    broker_up = True
    last_reap = last_heartbeat = 0.0
    while True:
        t0 = time.monotonic()
        beat_mark()
        try:
            dispatch_queued_jobs.apply_async(expires=every_s)
            if t0 - last_reap >= 30:
                reap_stale_jobs.apply_async(expires=every_s)
                last_reap = t0
            if t0 - last_heartbeat >= HEARTBEAT_EVERY_S:
                for queue in ("cpu", "gpu"):
                    heartbeat.apply_async(args=[queue], queue=queue, expires=HEARTBEAT_EVERY_S)
                last_heartbeat = t0
        except SEND_ERRORS as exc:
            if broker_up:
                print(f"[{time.strftime('%H:%M:%S')}] broker down: {exc}", flush=True)
            broker_up = False
        else:
            if not broker_up:
                print(f"[{time.strftime('%H:%M:%S')}] broker back", flush=True)
            broker_up = True
        time.sleep(max(0.0, every_s - (time.monotonic() - t0)))


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command", required=True)
    w = sub.add_parser("world")
    w.add_argument("--images", type=int, default=80)
    w.add_argument("--seed", type=int, default=5)
    b = sub.add_parser("beat")
    b.add_argument("--every", type=float, default=1.0)
    args = ap.parse_args()
    if args.command == "world":
        world(args.images, args.seed)
    else:
        beat(args.every)


if __name__ == "__main__":
    main()
