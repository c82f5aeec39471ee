"""Django set-up step of the annotation-loop benchmark, run as its own process.

Migrates the (fresh) database named by ``DATABASE_URL``, then creates the annotators (role
group, token), one project per annotator count with enough small real PNG items, and
prints one JSON line describing them. Run by ``bench/annotation_loop.py`` with the same
environment as the server, so both see the same database and media folder.

    DATABASE_URL=... MEDIA_ROOT=... python bench/_seed.py --users 32 --items 9000 \
        --projects 1,8,32 --overlap 1
"""

from __future__ import annotations

import argparse
import io
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
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from PIL import Image  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from jdreview.models import Membership, Project  # noqa: E402
from jdreview.roles import Role, ensure_role_groups  # noqa: E402
from labeling.items import NewItem, check_upload, items_create  # noqa: E402
from labeling.models import AD_IMAGE, Item  # noqa: E402

# Distinct image files per project; items beyond the pool share its files (the loop never
# downloads images, it only needs every item to point at a real, checked file).
POOL = 64
BATCH = 2000


def _png(i: int) -> bytes:
    buf = io.BytesIO()
    color = ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)
    Image.new("RGB", (64, 64), color).save(buf, format="PNG")
    return buf.getvalue()


def seed_project(*, label: str, users: list, items: int, overlap: int) -> Project:
    project = Project.objects.create(
        name=f"Bench {label}",
        slug=f"bench-{label}",
        overlap=overlap,
        gold_share=0.0,
        guidelines="Judge shape, placement and color.",
    )
    Membership.objects.bulk_create([Membership(project=project, user=u) for u in users])
    # The pool goes through the ordinary import path (checked upload, stored file).
    pool = items_create(
        project=project,
        new_items=[
            NewItem(image=check_upload(_png(i), f"p{i}.png"), external_id=f"{label}-{i}")
            for i in range(min(POOL, items))
        ],
    )
    rest = [
        Item(
            project=project,
            kind=AD_IMAGE,
            source=Item.Source.UPLOAD,
            external_id=f"{label}-{i}",
            image=pool[i % len(pool)].image.name,
            image_sha256=pool[i % len(pool)].image_sha256,
            width=64,
            height=64,
        )
        for i in range(len(pool), items)
    ]
    Item.objects.bulk_create(rest, batch_size=BATCH)
    return project


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, required=True)
    ap.add_argument("--items", type=int, required=True, help="items per project")
    ap.add_argument("--projects", required=True, help="comma-separated labels, one project each")
    ap.add_argument("--overlap", type=int, default=1)
    args = ap.parse_args()

    t0 = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    t_migrate = time.perf_counter() - t0
    group = ensure_role_groups()[Role.ANNOTATOR]
    password = make_password(None)  # unusable: the loop authenticates with tokens only
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"bench-annotator-{i}", password=password) for i in range(args.users)]
    )
    group.user_set.add(*users)
    tokens = [Token.objects.create(user=u).key for u in users]
    projects = {
        label: seed_project(label=label, users=users, items=args.items, overlap=args.overlap).pk
        for label in args.projects.split(",")
    }
    if connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum would have them in a running system; without them
        # the planner takes the just-loaded tables for empty and picks nested loops.
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    print(
        json.dumps(
            {
                "users": [{"id": u.pk, "token": t} for u, t in zip(users, tokens)],
                "projects": projects,
                "migrate_s": round(t_migrate, 2),
                "seed_s": round(time.perf_counter() - t0 - t_migrate, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
