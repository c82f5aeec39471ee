"""The demo's calibration audit: simulated senior ops auditors label the held-out split the
launch gate is calibrated on (the gate's own concern, so it lives with the gate)."""

from __future__ import annotations

from jdreview.models import Project
from jdreview.roles import Role
from labeling.models import AD_IMAGE, Item
from labeling.services import annotation_record
from labeling.world_seed import Progress, simulated_reviewers


def simulate_calibration_audit(
    *,
    project: Project,
    seed: int = 0,
    error_range: tuple[float, float] = (0.01, 0.03),
    progress: Progress | None = None,
) -> int:
    """Senior ops auditors (error rates 1-3%, against 3-15% for ordinary reviewers) label
    every labeled ad image of the project's held-out split: three each, two more where
    those disagree (``settled_labels``), stored as "audit" annotations through
    ``annotation_record`` like an ops verdict.

    The gate is calibrated on the held-out split's labels, and its guarantee is only as
    good as they are: one ordinary reviewer calls a clean image unusable about a quarter
    of the time (three aspects at 3-15% each), so no threshold could be shown to launch
    98% usable images. Returns labels stored; images already audited are skipped."""
    from labeling.models import Annotation
    from labeling.world.reviewers import settled_labels
    from rewards.ml.train import split_for

    pairs = simulated_reviewers(
        project=project,
        count=5,
        seed=seed,
        error_range=error_range,
        role=Role.OPS,
        prefix="sim-auditor-",
    )
    user_of = {reviewer.name: user for user, reviewer in pairs}
    auditors = [reviewer for _, reviewer in pairs]
    audited = set(
        Annotation.objects.filter(
            project=project, source="audit", user__in=user_of.values()
        ).values_list("item_id", flat=True)
    )
    labeled = (
        Item.objects.filter(project=project, kind=AD_IMAGE, done_count__gt=0)
        .exclude(truth={})
        .exclude(pk__in=audited)
        .order_by("pk")
    )
    held = [i for i in labeled if split_for(i.pk, salt=str(project.pk)) == "heldout"]
    stored = 0
    for n, item in enumerate(held, 1):
        for reviewer, values in settled_labels(item.truth["aspects"], str(item.pk), auditors):
            annotation_record(item=item, user=user_of[reviewer.name], values=values, source="audit")
            stored += 1
        if progress and n % 50 == 0:
            progress(n / len(held), f"{n}/{len(held)} held-out images audited")
    return stored
