"""Job kinds of the rewards app: retraining (gpu queue) and scoring (cpu queue)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from rewards.scoring import gate_calibrate, images_score
from rewards.training import train_aspects
from workers.registry import register


@register("train_rewards", queue="gpu", title="Retrain the aspect reward models")
def run_train_rewards(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    aspects = job.params.get("aspects") or None
    versions = train_aspects(
        project=job.project,
        aspects=aspects,
        epochs=job.params.get("epochs"),
        job=job,
        reporter=reporter,
    )
    reporter.progress(0.92, log="calibrating the launch gate on held-out labels")
    calibration = gate_calibrate(job.project)
    reporter.log(f"gate: {calibration}")
    from workers.services import job_create

    with transaction.atomic():
        job_create(kind="score_images", params={}, project=job.project)
    return {
        "versions": {v.aspect: f"v{v.version} ({v.status})" for v in versions},
        **{f"{v.aspect}_auc": v.metrics.get("auc") for v in versions},
        "gate": calibration,
    }


@register("score_images", queue="cpu", title="Score new images and decide launches")
def run_score_images(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    counts = images_score(
        job.project,
        rescore=bool(job.params.get("rescore")),
        progress=lambda f, msg: reporter.progress(f, log=msg),
    )
    if not counts["scored"]:
        reporter.log("no live model for every aspect: nothing scored, nothing launched")
    return counts


@register("calibrate_gate", queue="cpu", title="Recalibrate the launch gate")
def run_calibrate_gate(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return gate_calibrate(job.project)
