"""Job kinds of the labeling app (see workers.registry)."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from labeling import exports
from labeling.world_seed import simulate_labels, world_seed
from workers.registry import register


@register("seed_world", queue="cpu", title="Seed ad images from the benchmark world")
def run_seed_world(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    images = int(job.params.get("images", 200))
    seed = int(job.params.get("seed", 7))
    reporter.log(f"composing {images} images, seed {seed}")
    created = world_seed(
        project=job.project,
        images=images,
        seed=seed,
        progress=lambda f, msg: reporter.progress(f * 0.99, log=msg),
    )
    return {"created": created}


@register("simulate_labels", queue="cpu", title="Simulated reviewers label the queue")
def run_simulate_labels(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    stored = simulate_labels(
        project=job.project,
        reviewers=int(job.params.get("reviewers", 5)),
        labels=int(job.params.get("labels", 500)),
        seed=int(job.params.get("seed", 7)),
        progress=lambda f, msg: reporter.progress(f, log=msg),
    )
    return {"labels": stored}


@register("export", queue="cpu", title="Export labels")
def run_export(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    fmt = job.params.get("format", "jsonl")
    if fmt not in ("jsonl", "hf"):
        raise ValueError(f"unknown export format {fmt!r}")
    writer = exports.export_jsonl if fmt == "jsonl" else exports.export_hf
    lines = list(writer(job.project))
    reporter.progress(0.8, log=f"{len(lines)} annotations")
    # The random part keeps the name unguessable (the file is served only to people who may
    # manage the project's data, but a name should not tell what exists either).
    name = default_storage.save(
        f"exports/{job.project.slug}-{fmt}-{timezone.now():%Y%m%d-%H%M%S}-"
        f"{secrets.token_hex(12)}.jsonl",
        ContentFile("".join(lines).encode()),
    )
    job.artifacts = {"file": name}
    return {"annotations": len(lines)}
