"""Generator jobs in the app: training, RL from the live reward ensemble and pruning each
save a generator version with its held-out judgement; generated ads become items that the
gate scores; bad requests fail the job with a clear message."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then used as arguments)
from __future__ import annotations

import pytest
from django.db import transaction

from jdreview.models import Product
from labeling.models import Item
from rewards.models import Decision
from tests.imagegen_helpers import (
    gate_thresholds,
    live_reward_models,
    saved_generator,
    world_catalog,
)
from tests.tiny_pipelines import tiny_inpainting_pipeline  # noqa: F401
from workers import services as job_services
from workers.imagegen.evaluation import sample_file, samples_of
from workers.models import Job, ModelVersion
from workers.versions import artifact_path

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_enqueue", "one_torch_thread")]


@pytest.fixture
def catalog(db):  # type: ignore[no-untyped-def]
    return world_catalog()


def _run(kind: str, params: dict, project, user=None) -> Job:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        job = job_services.job_create(kind=kind, params=params, project=project, user=user)
    job_services.job_run(job.pk)
    job.refresh_from_db()
    return job


def test_training_job_saves_a_live_generator_judged_on_the_heldout_set(project, manager, catalog):
    job = _run(
        "generator_train", {"steps": 4, "layers": 3, "images": 32, "seed": 1}, project, manager
    )
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.progress == 1.0 and "training data" in job.log_tail
    version = ModelVersion.objects.get(project=project, family="generator")
    assert version.status == "live" and version.job == job
    assert version.config["num_layers"] == 3
    assert (artifact_path(version) / "transformer" / "config.json").is_file()
    assert 0.0 <= version.metrics["heldout_usable"] <= 1.0
    assert version.metrics["heldout_reward"] is None  # no live reward ensemble yet
    samples = samples_of(version)
    assert len(samples) == version.metrics["heldout_n"] == 24
    assert sample_file(version, 0) is not None
    assert job.metrics["version_id"] == version.pk


def test_rl_job_reports_reward_and_usable_rate_and_saves_a_child_version(project, manager, catalog):
    live_reward_models(project)
    base = saved_generator(project, layers=2)
    job = _run("generator_rl", {"steps": 2, "batch": 2, "version": base.pk}, project, manager)
    assert job.status == Job.Status.SUCCEEDED, job.error
    child = ModelVersion.objects.exclude(pk=base.pk).get(project=project, family="generator")
    assert child.parent == base and child.name == "rl" and child.status == "candidate"
    rl = child.metrics["rl"]
    for key in ("reward_before", "reward_after", "usable_before", "usable_after"):
        assert 0.0 <= rl[key] <= 1.0
    assert len(rl["train_rewards"]) == 2 and len(rl["consistency"]) == 2
    expected = rl["reward_after"] > rl["reward_before"] + 1e-3 and (
        rl["usable_after"] <= rl["usable_before"] < 1.0
    )
    assert rl["reward_hacking"] is expected and child.metrics["reward_hacking"] is expected
    assert child.metrics["heldout_reward"] is not None
    assert job.metrics["reward_hacking"] is expected


def test_rl_without_live_reward_models_fails_clearly(project, manager, catalog):
    base = saved_generator(project, layers=2)
    job = _run("generator_rl", {"steps": 1, "version": base.pk}, project, manager)
    assert job.status == Job.Status.FAILED
    assert "no live reward model for every aspect" in job.error
    assert ModelVersion.objects.filter(project=project, family="generator").count() == 1


def test_pruning_job_saves_a_shallower_version_with_its_analysis(project, manager, catalog):
    base = saved_generator(project, layers=4)
    job = _run(
        "generator_prune",
        {"version": base.pk, "remove": 1, "recovery_steps": 2, "images": 32},
        project,
        manager,
    )
    assert job.status == Job.Status.SUCCEEDED, job.error
    pruned = ModelVersion.objects.exclude(pk=base.pk).get(project=project, family="generator")
    assert pruned.config["num_layers"] == 3 and pruned.parent == base
    pr = pruned.metrics["pruning"]
    assert len(pr["influence"]) == len(pr["smoothed"]) == 4
    assert len(pr["remove"]) == 1 and pr["blocks_after"] == 3
    assert pr["params_after"] < pr["params_before"]
    assert pr["throughput_ratio"] > 0 and pr["quality_ratio"] > 0
    from workers.imagegen.evaluation import model_load

    assert model_load(pruned).num_blocks == 3


def test_pruning_a_version_of_another_project_fails(project, other_project, manager, catalog):
    foreign = saved_generator(other_project, layers=3)
    job = _run("generator_prune", {"version": foreign.pk}, project, manager)
    assert job.status == Job.Status.FAILED and "no generator version with id" in job.error


def test_generated_ads_become_items_with_truth_and_recipe(project, manager, catalog):
    version = saved_generator(project, layers=2)
    product = Product.objects.order_by("sku").first()
    job = _run("generate_ads", {"product": product.pk, "count": 3, "seed": 5}, project, manager)
    assert job.status == Job.Status.SUCCEEDED, job.error
    items = list(Item.objects.filter(project=project, source="generated").order_by("pk"))
    assert len(items) == 3 and job.metrics["generated"] == 3
    for item in items:
        assert item.product == product and item.image and item.kind == "ad_image"
        assert item.recipe["generator"]["version_id"] == version.pk
        assert set(item.truth["aspects"]) == {"shape", "placement", "color"}
        assert isinstance(item.truth["usable"], bool)
        assert item.queued  # no live ensemble: a person judges them
    assert job.metrics["unscored"] == 3
    assert sorted(i.recipe["seed"] for i in items) == [5, 6, 7]


def test_recurrent_generation_stops_when_the_gate_launches(project, manager, catalog):
    saved_generator(project, layers=2)
    live_reward_models(project)
    gate_thresholds(project, launch=0.0)  # everything passes: the first try launches
    product = Product.objects.order_by("sku").first()
    job = _run(
        "generate_ads", {"product": product.pk, "count": 4, "recurrent": True}, project, manager
    )
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.metrics["generated"] == 1 and job.metrics["launched_on_try"] == 1
    item = Item.objects.get(project=project, source="generated")
    assert item.decision.outcome == Decision.Outcome.LAUNCH and not item.queued


def test_generated_ads_are_held_while_only_world_images_are_calibrated(project, manager, catalog):
    saved_generator(project, layers=2)
    live_reward_models(project)
    gate_thresholds(project, launch=0.0, populations=("world",))  # world would all launch
    product = Product.objects.order_by("sku").first()
    job = _run(
        "generate_ads", {"product": product.pk, "count": 2, "recurrent": True}, project, manager
    )
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.metrics["launched_on_try"] is None
    for d in Decision.objects.filter(item__source="generated"):
        assert d.outcome == Decision.Outcome.REVIEW and d.item.queued
        assert d.reason == "no calibration for generated items yet: a person must judge it"


def test_recurrent_generation_gives_up_after_n_tries(project, manager, catalog):
    saved_generator(project, layers=2)
    live_reward_models(project)
    gate_thresholds(project, launch=1.01)  # nothing can launch
    product = Product.objects.order_by("sku").first()
    job = _run(
        "generate_ads", {"product": product.pk, "count": 3, "recurrent": True}, project, manager
    )
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.metrics["generated"] == 3 and job.metrics["launched_on_try"] is None
    assert job.metrics["review"] + job.metrics["reject"] == 3
    assert Decision.objects.filter(item__source="generated").count() == 3


def test_generation_without_a_generator_fails_clearly(project, manager, catalog):
    product = Product.objects.order_by("sku").first()
    job = _run("generate_ads", {"product": product.pk, "count": 1}, project, manager)
    assert job.status == Job.Status.FAILED and "train one first" in job.error
    assert not Item.objects.filter(source="generated").exists()


def test_full_generation_without_a_local_pipeline_fails_clearly(
    project, manager, catalog, settings
):  # type: ignore[no-untyped-def]
    settings.GENERATOR_FULL_PIPELINE_PATH = ""
    product = Product.objects.order_by("sku").first()
    job = _run("generate_ads", {"product": product.pk, "count": 1, "full": True}, project, manager)
    assert job.status == Job.Status.FAILED and "local diffusers inpainting pipeline" in job.error
    assert not Item.objects.filter(source="generated").exists()


def test_full_generation_with_a_folder_that_is_not_a_pipeline_fails_clearly(
    project, manager, catalog, settings, tmp_path
):  # type: ignore[no-untyped-def]
    (tmp_path / "unet").mkdir()
    settings.GENERATOR_FULL_PIPELINE_PATH = str(tmp_path)
    product = Product.objects.order_by("sku").first()
    job = _run("generate_ads", {"product": product.pk, "count": 1, "full": True}, project, manager)
    assert job.status == Job.Status.FAILED and "no model_index.json" in job.error
    assert not Item.objects.filter(source="generated").exists()


def test_full_generation_paints_around_the_kept_product_and_enters_the_gate(
    project, manager, catalog, settings, tiny_inpainting_pipeline
):  # type: ignore[no-untyped-def]
    """The `full` path for real: a Stable Diffusion inpainting pipeline (tiny, untrained,
    saved with save_pretrained) loaded from its folder by the app's own loader, painting at
    its native 64 pixels on the CPU; the ads keep the product's pixels exactly and the gate
    scores them as generated ads of the `full` generator."""
    import numpy as np
    from PIL import Image

    from workers.imagegen.data import product_cutout
    from workers.imagegen.ml.layout import Layout, place_product

    settings.GENERATOR_FULL_PIPELINE_PATH = str(tiny_inpainting_pipeline)
    live_reward_models(project)
    product = Product.objects.order_by("sku").first()
    job = _run(
        "generate_ads",
        {"product": product.pk, "count": 2, "full": True, "seed": 3},
        project,
        manager,
    )
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.metrics["generator"] == "full" and job.metrics["generated"] == 2
    items = list(Item.objects.filter(project=project, source="generated").order_by("pk"))
    assert len(items) == 2
    for item in items:
        generator = item.recipe["generator"]
        assert generator["name"] == "full" and "version_id" not in generator
        assert generator["class"] == "StableDiffusionInpaintPipeline"
        assert generator["resolution"] == 64 and item.recipe["sample_steps"] == 30
        assert isinstance(item.truth["usable"], bool)
    assert sorted(i.recipe["seed"] for i in items) == [3, 4]
    decisions = Decision.objects.filter(item__in=items)
    assert decisions.count() == 2
    assert all(set(d.scores) == {"shape", "placement", "color"} for d in decisions)
    cutout = product_cutout(product)
    images = []
    for item in items:
        img = np.asarray(Image.open(item.image.path).convert("RGB"))
        assert img.shape == (256, 256, 3)  # painted at 64, composed on the 256 canvas
        rgb, alpha = place_product(cutout, Layout(**item.recipe["layout"]), 256)
        opaque = alpha == 255
        assert opaque.sum() > 1000
        assert np.array_equal(img[opaque], rgb[opaque])  # the product, byte for byte
        assert img[alpha == 0].std() > 1  # the background is the pipeline's, not blank
        images.append(img)
    assert not np.array_equal(images[0], images[1])  # each seed paints its own background
