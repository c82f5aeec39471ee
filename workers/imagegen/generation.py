"""Generating ads for a product: new ``Item``s that enter the same flow as imported images.

Each generated ad is stored with ``items_create`` (like an upload), judged by the world's
oracle for its ground truth (``truth``, never shown to annotators), then scored and gated
by ``rewards.scoring.images_score``, the service the ``score_images`` job runs: it may
launch, go to human review, or be rejected, and it is sampled for the ops audit like any
other image. In recurrent mode (JD's "recurrent generation"), ads are generated one at a
time until the gate launches one, at most ``count`` tries.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from django.conf import settings

from jdreview.models import Product, Project
from labeling.items import NewItem, items_create
from labeling.models import Item
from labeling.uploads import check_image
from workers.imagegen.data import GeneratorDataError, product_cutout
from workers.imagegen.evaluation import ASPECTS, generator_for, model_load
from workers.models import Job, ModelVersion

BATCH = 8


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def oracle_truth(ad: Any, cutout: Any) -> dict[str, Any]:
    """Ground truth of a generated ad in the world items' format ({"aspects": {aspect:
    {"defect", "severity"}}, "usable"}), so simulated reviewers, gold answers and the
    dashboards treat it like any world image."""
    from labeling.world.oracle import judge_generated

    verdict = judge_generated(ad.image, ad.product_mask, cutout, ad.layout.to_dict())
    details = verdict["details"]
    aspects = {
        a: {
            "defect": details[a]["defect"] if verdict[a] == "defect" else None,
            "severity": 1.0 if verdict[a] == "defect" else 0.0,
        }
        for a in ASPECTS
    }
    for a in ASPECTS:
        if aspects[a]["severity"] and aspects[a]["defect"] is None:
            aspects[a]["defect"] = "defect"  # the oracle says defective without naming a kind
    return {"aspects": aspects, "usable": verdict["usable"] == "yes", "judge": "oracle"}


def _new_item(
    ad: Any,
    cutout: Any,
    *,
    product: Product,
    generator: dict[str, Any],
    sample_steps: int | None,
    external_id: str,
    job: Job | None,
    attempt: int,
) -> NewItem:
    data = _png(ad.image)
    return NewItem(
        image=check_image(data, name=external_id, max_bytes=10**8, max_pixels=10**8),
        external_id=external_id,
        payload={"title": product.title},
        product_sku=product.sku,
        recipe={
            "generator": generator,
            "seed": ad.seed,
            "layout": ad.layout.to_dict(),
            "sample_steps": sample_steps,
            "prompt": ad.title,
            "job": job.pk if job is not None else None,
            "try": attempt,
        },
        truth=oracle_truth(ad, cutout),
        source=Item.Source.GENERATED,
    )


def _gate(project: Project, items: list[Item]) -> dict[str, str]:
    """Score and gate the new items with the live ensemble; item id -> outcome (or
    "unscored" when the project has no live model for every aspect: a person judges)."""
    from rewards.models import Decision
    from rewards.scoring import images_score

    images_score(project)
    outcomes = dict(Decision.objects.filter(item__in=items).values_list("item_id", "outcome"))
    return {str(i.pk): outcomes.get(i.pk, "unscored") for i in items}


def ads_generate(
    *,
    project: Project,
    product: Product,
    count: int,
    recurrent: bool = False,
    version: ModelVersion | None = None,
    seed: int = 0,
    job: Job | None = None,
    reporter: Any = None,
    full: bool = False,
) -> dict[str, Any]:
    """Generate ``count`` ads (or, recurrent, up to ``count`` tries until one launches).

    ``full``: with the diffusers inpainting pipeline in ``GENERATOR_FULL_PIPELINE_PATH`` (a
    local folder, on GPU) instead of the project's tiny generator version."""
    from workers.imagegen.ml.layout import choose_layout, product_bbox_aspect

    generate: Callable[..., list[Any]]
    if full:
        from workers.imagegen.ml.config import full_config
        from workers.imagegen.ml.full import (
            PipelineError,
            config_for,
            generate_ads_full,
            load_full_pipeline,
        )

        base = full_config(settings.GENERATOR_FULL_PIPELINE_PATH)
        try:
            pipe = load_full_pipeline(base)
        except PipelineError as exc:
            raise GeneratorDataError(str(exc)) from None
        cfg = config_for(pipe, base)
        version = None
        # What made the ads (their population for the gate and the audit): the pipeline
        # here, a project's generator version below.
        generator = {
            "name": "full",
            "pipeline": settings.GENERATOR_FULL_PIPELINE_PATH,
            "class": type(pipe).__name__,
            "resolution": cfg.resolution,
        }
        sample_steps: int | None = cfg.sample_steps

        def generate(titles, cutouts, seeds, layouts):  # type: ignore[no-untyped-def]
            return generate_ads_full(pipe, cfg, titles, cutouts, seeds, layouts)

    else:
        from workers.imagegen.ml.sampling import generate_ads

        version = version or generator_for(project, None)
        model = model_load(version)
        generator = {
            "version_id": version.pk,
            "version": version.version,
            "name": version.name,
            "num_layers": version.config.get("num_layers"),
        }
        sample_steps = version.config.get("sample_steps")

        def generate(titles, cutouts, seeds, layouts):  # type: ignore[no-untyped-def]
            return generate_ads(model, titles, cutouts, seeds, layouts)

    cutout = product_cutout(product)
    layout = choose_layout(product_bbox_aspect(cutout))
    tag = f"job{job.pk}" if job is not None else f"s{seed}"
    label = f"v{version.pk}" if version is not None else "full"
    outcomes: dict[str, str] = {}
    items: list[Item] = []
    launched_on: int | None = None
    size = 1 if recurrent else BATCH
    for start in range(0, count, size):
        n = min(size, count - start)
        seeds = [seed + start + k for k in range(n)]
        ads = generate([product.title] * n, [cutout] * n, seeds, [layout] * n)
        new = [
            _new_item(
                ad,
                cutout,
                product=product,
                generator=generator,
                sample_steps=sample_steps,
                external_id=f"gen-{product.sku}-{label}-{tag}-{start + k}",
                job=job,
                attempt=start + k + 1,
            )
            for k, ad in enumerate(ads)
        ]
        created = items_create(project=project, new_items=new)
        items += created
        outcomes.update(_gate(project, created))
        if reporter is not None:
            last = outcomes[str(created[-1].pk)]
            reporter.progress(
                (start + n) / count,
                log=f"{start + n}/{count}: gate says {last}" if recurrent else None,
            )
        if recurrent and outcomes[str(created[-1].pk)] == "launch":
            launched_on = start + n
            break
    counts = {k: sum(v == k for v in outcomes.values()) for k in ("launch", "review", "reject")}
    counts["unscored"] = sum(v == "unscored" for v in outcomes.values())
    usable = sum(bool(i.truth.get("usable")) for i in items)
    result: dict[str, Any] = {
        "product": product.sku,
        "generator": f"v{version.version} {version.name}" if version is not None else "full",
        "generated": len(items),
        **counts,
        "oracle_usable": usable,
        "item_ids": [i.pk for i in items],
    }
    if recurrent:
        result["recurrent"] = True
        result["launched_on_try"] = launched_on
    return result
