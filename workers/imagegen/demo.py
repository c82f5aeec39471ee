"""Demo data of the image-generator loop: a tiny generator, trained here in under a minute
on the demo project's usable world ads, and a few generated ads already through the gate.

RL and pruning are not run here: people start them from the generator page. Idempotent:
a project that already has a generator gets nothing new. ``demo_project()`` finds the
project and ``STEPS`` are the data, each ``(title, share of the time, step)``: ``seed()`` runs
them here, the ``seed_demo`` job (jdreview.demo_jobs) on a worker with a progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.contrib.auth import get_user_model

from jdreview.models import Project
from jdreview.projects import membership_set
from labeling.models import Item
from workers.imagegen.apps import FAMILY as GENERATOR_FAMILY
from workers.reporter import Reporter, steps_run
from workers.versions import versions_of

DEMO_PROJECT = "ad-images"  # the image project of labeling's seed_demo
OWN_PROJECT = "ad-generator"  # used when that one does not exist
DEMO_MEMBERS = ("admin", "manager", "ops", "annotator", "annotator2")
# Sized for the two shared cores here: about 45 s of training on one thread.
TRAIN = {"steps": 150, "layers": 6, "images": 240}
DEMO_ADS = 3  # generated ads for each of two products


def demo_project() -> Project:
    """The demo's image project (labeling's seed_demo makes it), else one of its own."""
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
        membership_set(project=project, user=user)
    return project


def seed(*, log: Callable[[str], None], seed: int = 0) -> None:
    started = time.monotonic()
    # A progress line every few seconds at most.
    steps_run(demo_project(), STEPS, log=log, seed=seed, min_interval_s=5.0)
    log(f"Generator demo ready in {time.monotonic() - started:.0f} s.")


def _generator(
    project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int
) -> None:
    from labeling.world_seed import world_products_sync
    from workers.imagegen.jobs import cpu_threads
    from workers.imagegen.training import generator_train

    world_products_sync()
    if versions_of(project, GENERATOR_FAMILY):
        return
    log(f"Training a tiny ad-image generator for {project.name} ({TRAIN['steps']} steps)…")
    with cpu_threads():
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


def _ads(project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int) -> None:
    from jdreview.models import Product
    from workers.imagegen.generation import ads_generate
    from workers.imagegen.jobs import cpu_threads

    if Item.objects.filter(project=project, source=Item.Source.GENERATED).exists():
        return
    products = list(Product.objects.exclude(cutout="").order_by("sku")[:2])
    with cpu_threads():
        for done, product in enumerate(products):
            result = ads_generate(project=project, product=product, count=DEMO_ADS, seed=seed + 1)
            log(
                f"  {result['generated']} ads for {product.title}: {result['launch']} "
                f"launched, {result['review']} to review, {result['reject']} rejected, "
                f"{result['unscored']} unscored"
            )
            reporter.progress((done + 1) / len(products))


# The steps of the demo's data, in order, with their rough share of its time.
STEPS = [
    ("training a tiny ad-image generator", 0.8, _generator),
    ("generated ads through the gate", 0.2, _ads),
]
