"""Filling the database from the benchmark world, and letting simulated reviewers label.

Both go through the same services as real data: ``items_create`` for items and
``task_next`` / ``annotation_submit`` for labels.
"""

from __future__ import annotations

import io
import itertools
import multiprocessing
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction

from jdreview.models import Product, Project
from jdreview.projects import membership_set
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


def _composed(recipe: dict) -> tuple[bytes, dict, bool]:
    """One ad composed from its recipe, as (PNG bytes, truth, usable): the part of seeding
    that is worth a second process."""
    from labeling.world.composer import compose_from_recipe

    ad = compose_from_recipe(recipe, settings.EMOJI_ASSET_DIR)
    return _png(ad.image), ad.truth, bool(ad.usable)


def _world_ads(
    images: int, seed: int, skip: set[int], processes: int
) -> Iterator[tuple[int, Any, dict, bytes, dict, bool]]:
    """(index, product, recipe, PNG bytes, truth, usable) for the world's ads not in ``skip``,
    in order; composed in ``processes`` forked processes when more than one."""
    from labeling.world.composer import recipe_for, world_specs

    wanted = (
        (i, product, recipe_for(product, spec))
        for i, (product, _, spec) in enumerate(
            world_specs(images, seed=seed, asset_dir=settings.EMOJI_ASSET_DIR)
        )
        if i not in skip
    )
    if processes <= 1:
        for i, product, recipe in wanted:
            yield (i, product, recipe, *_composed(recipe))
        return
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(processes, mp_context=ctx) as pool:
        while chunk := list(itertools.islice(wanted, BATCH)):
            done = pool.map(_composed, [r for _, _, r in chunk], chunksize=8)
            for (i, product, recipe), result in zip(chunk, done):
                yield (i, product, recipe, *result)


def world_seed(
    *,
    project: Project,
    images: int,
    seed: int,
    gold_share: float = 0.05,
    progress: Progress | None = None,
    processes: int = 1,
) -> int:
    """Add ``images`` world ad images to the project (deterministic for a seed).

    Running it again with the same seed adds nothing: items are keyed by external id.
    ``processes`` > 1 composes the images in that many forked processes (same pixels; for
    commands, not for code running inside a daemonic worker process). Returns how many
    items were created.
    """
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
    gold = [gold_rng.random() < gold_share for _ in range(images)]
    skip = {i for i in range(images) if f"world-{seed}-{i}" in have}
    created = 0
    batch: list[NewItem] = []
    for i, product, recipe, data, ad_truth, usable in _world_ads(images, seed, skip, processes):
        external_id = f"world-{seed}-{i}"
        truth = {"aspects": ad_truth, "usable": usable}
        batch.append(
            NewItem(
                image=check_image(data, name=external_id, max_bytes=10**8, max_pixels=10**8),
                external_id=external_id,
                payload={"title": product.title},
                product_sku=product.sku,
                is_gold=gold[i],
                gold_answer=truth_answer(truth) if gold[i] else {},
                recipe=recipe,
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
    *,
    project: Project,
    count: int,
    seed: int,
    error_range: tuple[float, float] = (0.03, 0.15),
    role: Role = Role.ANNOTATOR,
    prefix: str = "sim-",
) -> list:
    """Create (or reuse) ``count`` simulated accounts with ``role`` that are members of the
    project, each paired with its simulated reviewer."""
    from labeling.world.reviewers import reviewer_pool

    ensure_role_groups()
    User = get_user_model()
    pool = reviewer_pool(count, seed=seed, error_range=error_range)
    users = []
    for reviewer in pool:
        user, created = User.objects.get_or_create(username=f"{prefix}{reviewer.name}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        membership_set(project=project, user=user, role=role)
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
