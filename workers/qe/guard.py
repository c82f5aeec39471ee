"""The serving guard's Django side: the project's term-relevance model as a version (the
``qe_relevance`` job trains it from the ratings RL uses), and the guard's threshold setting.

The guard itself (which terms are dropped) is ``workers.qe.ml.reward.guard``; serving
(``workers.qe.serving``) loads the live relevance version and applies it before search.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from jdreview.activity import action_register, activity_record
from jdreview.models import Project
from workers.models import Job, ModelVersion
from workers.qe.apps import RELEVANCE_FAMILY
from workers.qe.models import GUARD_THRESHOLD_DEFAULT, QESettings
from workers.versions import artifact_dir, model_version_create

if TYPE_CHECKING:
    from workers.reporter import JobReporter


GUARD_ACTION = "qe.guard_threshold"
action_register(GUARD_ACTION, "query-expansion guard threshold changed")


class GuardSettingError(ValueError):
    """The threshold given is not a number from 0 to 1 (a 400, with this message)."""


def parse_threshold(raw: Any) -> float:
    """A threshold as typed or sent: a finite number from 0 to 1."""
    if isinstance(raw, bool):
        raise GuardSettingError("the threshold must be a number from 0 to 1")
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        raise GuardSettingError("the threshold must be a number from 0 to 1") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise GuardSettingError(f"the threshold must be from 0 to 1, not {raw!r}")
    return value


def guard_threshold(project: Project) -> float:
    row = QESettings.objects.filter(project=project).values_list("guard_threshold", flat=True)
    stored = row.first()
    return GUARD_THRESHOLD_DEFAULT if stored is None else float(stored)


def guard_threshold_set(
    *, project: Project, value: Any, user: User | AnonymousUser | None = None
) -> float:
    """Store the project's guard threshold (validated); answers cached under the old one
    are not reused, as the threshold is part of their cache key."""
    threshold = parse_threshold(value)
    with transaction.atomic():
        before = guard_threshold(project)
        QESettings.objects.update_or_create(
            project=project, defaults={"guard_threshold": threshold}
        )
        activity_record(
            project=project,
            action=GUARD_ACTION,
            actor=user,
            before={"guard_threshold": before},
            after={"guard_threshold": threshold},
        )
    return threshold


def relevance_train(job: Job, reporter: JobReporter, *, seed: int) -> dict[str, Any]:
    """Fit the term-relevance model on the project's ratings (reviewers' when there are
    enough, else simulated: ``training.relevance_ratings``, as RL does) and make it live."""
    from workers.ml.runtime import device
    from workers.qe.catalog import query_world
    from workers.qe.ml.queries import simulated_term_ratings
    from workers.qe.ml.reward import EmbeddingCache, TermRelevanceModel
    from workers.qe.ml.reward.relevance import relevance_save
    from workers.qe.training import relevance_ratings

    if job.project is None:
        raise ValueError("a term-relevance model belongs to a project")
    _, qs = query_world()
    ratings, source = relevance_ratings(job, qs.train, seed=seed)
    reporter.progress(0.1, log=f"term-relevance model: {len(ratings)} {source} ratings")
    cache = EmbeddingCache(str(device()))
    model = TermRelevanceModel(cache)
    accuracy = model.fit(ratings)
    # Held-out: simulated ratings of queries whose surface forms fine-tuning never saw.
    heldout = simulated_term_ratings(qs.heldout, seed=seed, error_rate=0.0)
    probs = [float(model.prob(q, [t])[0]) for q, t, _ in heldout]
    heldout_accuracy = sum((p >= 0.5) == r for p, (_, _, r) in zip(probs, heldout)) / max(
        1, len(heldout)
    )
    metrics = {
        "ratings": len(ratings),
        "source": source,
        "train_accuracy": accuracy,
        "heldout_accuracy": heldout_accuracy,
        "heldout_ratings": len(heldout),
    }
    with artifact_dir() as tmp:
        relevance_save(model, tmp)
        version = model_version_create(
            project=job.project,
            family=RELEVANCE_FAMILY,
            name="term relevance",
            saved_dir=tmp,
            config={"params": dict(job.params), "features": 2 * 384 + 1},
            metrics=metrics,
            job=job,
            user=job.created_by,
            promote=True,
        )
    reporter.log(
        f"saved v{version.version}: train accuracy {accuracy:.3f}, held-out accuracy "
        f"{heldout_accuracy:.3f}; now live"
    )
    return {**metrics, "version": version.version, "live": True}


def relevance_version_ref(version: ModelVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {"id": version.pk, "number": version.version, "name": version.name}
