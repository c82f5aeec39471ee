"""Job kinds of the rewards app: retraining (gpu queue) and scoring (cpu queue)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

from labeling.schemas import AD_ASPECTS
from rewards.scoring import gate_calibrate, images_score
from rewards.training import train_aspects
from workers.params import NoParams, param
from workers.registry import register

if TYPE_CHECKING:
    from workers.models import Job
    from workers.reporter import JobReporter


@dataclass(frozen=True)
class TrainRewardsParams:
    aspects: tuple[str, ...] = param((), choices=AD_ASPECTS, help="none chosen: every aspect")
    epochs: int | None = param(None, low=1, high=100, help="empty: each aspect model's own default")


@register(
    "train_rewards",
    queue="gpu",
    title="Retrain the aspect reward models",
    params=TrainRewardsParams,
)
def run_train_rewards(
    job: Job, reporter: JobReporter, params: TrainRewardsParams
) -> dict[str, Any]:
    assert job.project is not None
    versions = train_aspects(
        project=job.project,
        aspects=list(params.aspects) or None,
        epochs=params.epochs,
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


@dataclass(frozen=True)
class ScoreImagesParams:
    rescore: bool = param(False, help="also score images that already have a decision")


@register(
    "score_images",
    queue="cpu",
    title="Score new images and decide launches",
    params=ScoreImagesParams,
)
def run_score_images(job: Job, reporter: JobReporter, params: ScoreImagesParams) -> dict[str, Any]:
    assert job.project is not None
    counts = images_score(
        job.project,
        rescore=params.rescore,
        progress=reporter.stage(),
    )
    if not counts["scored"]:
        reporter.log("no live model for every aspect: nothing scored, nothing launched")
    return counts


@register("calibrate_gate", queue="cpu", title="Recalibrate the launch gate", params=NoParams)
def run_calibrate_gate(job: Job, reporter: JobReporter, params: NoParams) -> dict[str, Any]:
    assert job.project is not None
    return gate_calibrate(job.project)
