"""Filling the database from the benchmark world, and letting simulated reviewers label.

Both go through the same services as real data: ``items_create`` for items and
``task_next`` / ``annotation_submit`` for labels.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction

from jdreview.models import Membership, Product, Project
from jdreview.roles import Role, ensure_role_groups
from labeling.items import NewItem, items_create, refresh_queue_statistics
from labeling.models import Item
from labeling.services import annotation_submit, task_next, task_skip
from labeling.uploads import check_image

Progress = Callable[[float, str], None]
BATCH = 100


def _png(image) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def world_products_sync() -> dict[str, Product]:
    """Make sure every world product has a catalog row with its reference cut-out."""
    from labeling.world.products import load_cutout, world_products

    existing = {p.sku: p for p in Product.objects.all()}
    for wp in world_products():
        if wp.sku in existing:
            continue
        product = Product(
            sku=wp.sku,
            title=wp.title,
            category=wp.category,
            brand=wp.brand,
            color=wp.color,
            attributes=wp.attributes,
        )
        product.cutout.save(
            f"{wp.sku}.png",
            ContentFile(_png(load_cutout(wp, settings.EMOJI_ASSET_DIR))),
            save=False,
        )
        product.save()
        existing[wp.sku] = product
    return existing


def world_seed(
    *,
    project: Project,
    images: int,
    seed: int,
    gold_share: float = 0.05,
    progress: Progress | None = None,
) -> int:
    """Add ``images`` world ad images to the project (deterministic for a seed).

    Running it again with the same seed adds nothing: items are keyed by external id.
    Returns how many items were created.
    """
    from labeling.world.composer import generate_world

    if images < 1:
        raise ValueError("images must be at least 1")
    world_products_sync()
    have = set(
        Item.objects.filter(project=project, external_id__startswith=f"world-{seed}-").values_list(
            "external_id", flat=True
        )
    )
    if all(f"world-{seed}-{i}" in have for i in range(images)):
        return 0  # already seeded: skip composing images only to throw them away
    gold_rng = random.Random(seed * 7919 + 1)
    created = 0
    batch: list[NewItem] = []
    for i, (product, ad) in enumerate(
        generate_world(images, seed=seed, asset_dir=settings.EMOJI_ASSET_DIR)
    ):
        external_id = f"world-{seed}-{i}"
        is_gold = gold_rng.random() < gold_share
        if external_id in have:
            continue
        data = _png(ad.image)
        truth = {"aspects": ad.truth, "usable": bool(ad.usable)}
        batch.append(
            NewItem(
                image=check_image(data, name=external_id, max_bytes=10**8, max_pixels=10**8),
                external_id=external_id,
                payload={"title": product.title},
                product_sku=product.sku,
                is_gold=is_gold,
                gold_answer=truth_answer(truth) if is_gold else {},
                recipe=ad.recipe,
                truth=truth,
                source=Item.Source.WORLD,
            )
        )
        if len(batch) >= BATCH:
            created += len(items_create(project=project, new_items=batch))
            batch = []
            if progress:
                progress((i + 1) / images, f"{i + 1}/{images} images")
    if batch:
        created += len(items_create(project=project, new_items=batch))
    refresh_queue_statistics()
    if progress:
        progress(1.0, f"{images}/{images} images")
    return created


def truth_answer(truth: dict) -> dict[str, str]:
    """The correct annotation for a world item, from its ground truth."""
    answer = {
        aspect: ("defect" if v.get("defect") else "ok")
        for aspect, v in truth.get("aspects", {}).items()
    }
    answer["usable"] = "yes" if truth.get("usable") else "no"
    return answer


def simulated_reviewers(
    *, project: Project, count: int, seed: int, error_range: tuple[float, float] = (0.03, 0.15)
) -> list:
    """Create (or reuse) ``count`` simulated annotator accounts that are members of the project."""
    from labeling.world.reviewers import reviewer_pool

    groups = ensure_role_groups()
    User = get_user_model()
    pool = reviewer_pool(count, seed=seed, error_range=error_range)
    users = []
    for reviewer in pool:
        user, created = User.objects.get_or_create(username=f"sim-{reviewer.name}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(groups[Role.ANNOTATOR])
        Membership.objects.get_or_create(project=project, user=user)
        users.append((user, reviewer))
    return users


# A simulated reviewer's verdict on an item: its values, or None when the item has no
# ground truth to judge from (it is skipped).
Review = Callable[[Item, Any, random.Random], dict[str, Any] | None]


def queue_simulate(
    *,
    project: Project,
    reviewers: int,
    labels: int,
    seed: int,
    review: Review,
    lead_ms: tuple[int, int] = (2500, 9000),
    what: str = "simulated labels",
    progress: Progress | None = None,
) -> int:
    """Simulated reviewers take items from the queue in turn and submit ``review``'s values
    through the same services the UI uses, until ``labels`` are stored or nobody gets an
    item any more. Returns how many were stored."""
    pairs = simulated_reviewers(project=project, count=reviewers, seed=seed)
    rng = random.Random(seed)
    stored = idle = turn = 0
    while stored < labels and idle < len(pairs):
        user, reviewer = pairs[turn % len(pairs)]
        turn += 1
        assignment = task_next(project=project, user=user)
        if assignment is None:
            idle += 1
            continue
        idle = 0
        values = review(assignment.item, reviewer, rng)
        if values is None:
            task_skip(assignment_id=assignment.pk, user=user)
            continue
        with transaction.atomic():
            annotation_submit(
                assignment_id=assignment.pk,
                user=user,
                values=values,
                lead_time_ms=rng.randint(*lead_ms),
                source="simulated",
            )
        stored += 1
        if progress and stored % 50 == 0:
            progress(stored / labels, f"{stored}/{labels} {what}")
    return stored


def simulate_labels(
    *, project: Project, reviewers: int, labels: int, seed: int, progress: Progress | None = None
) -> int:
    """Simulated reviewers label ad images from ground truth, with their own error rates.
    Returns labels stored."""
    return queue_simulate(
        project=project,
        reviewers=reviewers,
        labels=labels,
        seed=seed,
        review=lambda item, reviewer, _rng: reviewer.label(item.truth.get("aspects", {})),
        progress=progress,
    )
