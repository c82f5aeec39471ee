"""Demo data of the image-generator loop: a tiny generator, trained here in under a minute
on the demo project's usable world ads, and a few generated ads already through the gate.

RL and pruning are not run here: people start them from the generator page. Idempotent:
a project that already has a generator gets nothing new.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model

from jdreview.models import Membership, Project
from labeling.models import Item
from workers.imagegen.apps import FAMILY as GENERATOR_FAMILY
from workers.versions import versions_of

DEMO_PROJECT = "ad-images"  # the image project of labeling's seed_demo
OWN_PROJECT = "ad-generator"  # used when that one does not exist
DEMO_MEMBERS = ("admin", "manager", "ops", "annotator", "annotator2")
# Sized for the two shared cores here: about 45 s of training on one thread.
TRAIN = {"steps": 150, "layers": 6, "images": 240}
DEMO_ADS = 3  # generated ads for each of two products


class _LogReporter:
    """Just enough of a job reporter to print a line every so often."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._last = 0.0

    def progress(self, fraction: float, *, metrics: Any = None, log: str | None = None) -> None:
        if log and time.monotonic() - self._last > 5:
            self._last = time.monotonic()
            self._log(f"  {fraction:4.0%} {log}")

    def log(self, line: str) -> None:
        self._log(f"  {line}")


def _project() -> Project:
    project = Project.objects.filter(slug=DEMO_PROJECT).first()
    if project is not None:
        return project
    project, _ = Project.objects.get_or_create(
        slug=OWN_PROJECT,
        defaults={
            "name": "Ad generator",
            "description": "Ads generated for catalog products, gated like imported ones.",
        },
    )
    for user in get_user_model().objects.filter(username__in=DEMO_MEMBERS):
        Membership.objects.get_or_create(project=project, user=user)
    return project


def seed(*, log: Callable[[str], None], seed: int = 0) -> None:
    from labeling.world_seed import world_products_sync
    from workers.imagegen.generation import ads_generate
    from workers.imagegen.jobs import cpu_threads
    from workers.imagegen.training import generator_train

    started = time.monotonic()
    project = _project()
    world_products_sync()
    reporter = _LogReporter(log)
    with cpu_threads():
        if not versions_of(project, GENERATOR_FAMILY):
            log(f"Training a tiny ad-image generator for {project.name} ({TRAIN['steps']} steps)…")
            version = generator_train(
                project=project,
                steps=TRAIN["steps"],
                layers=TRAIN["layers"],
                images=TRAIN["images"],
                seed=seed,
                reporter=reporter,
            )
            log(
                f"  generator v{version.version}: oracle usable rate on held-out ads "
                f"{version.metrics['heldout_usable']:.0%}"
            )
        if not Item.objects.filter(project=project, source=Item.Source.GENERATED).exists():
            from jdreview.models import Product

            for product in Product.objects.exclude(cutout="").order_by("sku")[:2]:
                result = ads_generate(
                    project=project, product=product, count=DEMO_ADS, seed=seed + 1
                )
                log(
                    f"  {result['generated']} ads for {product.title}: {result['launch']} "
                    f"launched, {result['review']} to review, {result['reject']} rejected, "
                    f"{result['unscored']} unscored"
                )
    log(f"Generator demo ready in {time.monotonic() - started:.0f} s.")
