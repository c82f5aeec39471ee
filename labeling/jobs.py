"""Job kinds of the labeling app (see workers.registry)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from labeling import exports
from labeling.world_seed import simulate_labels, world_seed
from workers.params import SEED_MAX, param
from workers.registry import register

if TYPE_CHECKING:
    from workers.ml.runtime import Progress
    from workers.models import Job
    from workers.reporter import JobReporter


@dataclass(frozen=True)
class SeedWorldParams:
    images: int = param(200, low=1, high=20_000, help="ad images to compose")
    seed: int = param(7, low=0, high=SEED_MAX, help="the same seed composes the same images")


@register(
    "seed_world",
    queue="cpu",
    title="Seed ad images from the benchmark world",
    params=SeedWorldParams,
)
def run_seed_world(job: Job, reporter: JobReporter, params: SeedWorldParams) -> dict[str, Any]:
    assert job.project is not None
    images, seed = params.images, params.seed
    reporter.log(f"composing {images} images, seed {seed}")
    created = world_seed(
        project=job.project,
        images=images,
        seed=seed,
        progress=reporter.stage(0.0, 0.99),
    )
    return {"created": created}


@dataclass(frozen=True)
class SimulateLabelsParams:
    reviewers: int = param(5, low=1, high=50, help="simulated reviewers, each with their own bias")
    labels: int = param(500, low=1, high=50_000, help="labels to store in all")
    seed: int = param(7, low=0, high=SEED_MAX)


@register(
    "simulate_labels",
    queue="cpu",
    title="Simulated reviewers label the queue",
    params=SimulateLabelsParams,
)
def run_simulate_labels(
    job: Job, reporter: JobReporter, params: SimulateLabelsParams
) -> dict[str, Any]:
    assert job.project is not None
    stored = simulate_labels(
        project=job.project,
        reviewers=params.reviewers,
        labels=params.labels,
        seed=params.seed,
        progress=reporter.stage(),
    )
    return {"labels": stored}


EXPORT_PROGRESS_EVERY = 500  # rows between two progress reports of an export


@dataclass(frozen=True)
class ExportParams:
    format: str = param(
        "jsonl",
        choices=("jsonl", "hf"),
        help="jsonl: one annotation a line; hf: rows for Hugging Face datasets",
    )


@register("export", queue="cpu", title="Export labels", params=ExportParams)
def run_export(job: Job, reporter: JobReporter, params: ExportParams) -> dict[str, Any]:
    assert job.project is not None
    fmt = params.format
    writer = exports.export_jsonl if fmt == "jsonl" else exports.export_hf
    total = exports.export_count(job.project)
    reporter.log(f"exporting {total} annotations as {fmt}")
    # Writing the rows fills the bar to 80%; saving the file is the rest.
    progress: Progress[str] = reporter.stage(0.0, 0.8)
    lines: list[str] = []
    for line in writer(job.project):
        lines.append(line)
        if len(lines) % EXPORT_PROGRESS_EVERY == 0:
            progress(min(1.0, len(lines) / max(total, 1)), f"{len(lines)}/{total} annotations")
    progress(1.0, f"{len(lines)} annotations")
    # The random part keeps the name unguessable (the file is served only to people who may
    # manage the project's data, but a name should not tell what exists either).
    name = default_storage.save(
        f"exports/{job.project.slug}-{fmt}-{timezone.now():%Y%m%d-%H%M%S}-"
        f"{secrets.token_hex(12)}.jsonl",
        ContentFile("".join(lines).encode()),
    )
    job.artifacts = {"file": name}
    exports.export_record(project=job.project, fmt=fmt, annotations=len(lines))
    return {"annotations": len(lines)}
