"""Copy the reward models (rewards.ModelVersion) into the one registry as family
"aspect_reward", and point what named them by id at the copies. Written by hand.

Its own migration: PostgreSQL refuses the index creation Django defers to the end of a
schema migration once rows with deferred foreign-key checks were written in it."""

from django.db import migrations

BATCH = 1000


def _remap(ids: dict, mapping: dict[int, int]) -> dict:
    """aspect → old reward-model id, rewritten to the ids of the copied rows."""
    if not isinstance(ids, dict):
        return ids
    return {k: mapping.get(v, v) if isinstance(v, int) else v for k, v in ids.items()}


def copy_reward_models(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    Old = apps.get_model("rewards", "ModelVersion")
    New = apps.get_model("workers", "ModelVersion")
    Gate = apps.get_model("rewards", "Gate")
    Decision = apps.get_model("rewards", "Decision")
    mapping: dict[int, int] = {}
    for old in Old.objects.order_by("pk").iterator(chunk_size=BATCH):
        new = New.objects.create(
            project_id=old.project_id,
            family="aspect_reward",
            slot=old.aspect,
            version=old.version,
            name="train",
            status=old.status,
            config=old.config,
            # The folder stays where it is: artifacts are never moved or rewritten.
            artifact=old.artifact,
            metrics=old.metrics,
            label_snapshot=old.label_snapshot,
            loss_curve=old.loss_curve,
            job_id=old.job_id,
            promoted_by_id=old.promoted_by_id,
            promotion_note=old.promotion_note,
            promoted_at=old.promoted_at,
        )
        # auto_now_add stamped the copy with today; keep when the model was trained.
        New.objects.filter(pk=new.pk).update(created_at=old.created_at)
        mapping[old.pk] = new.pk
    if not mapping:
        return
    # The gate, its decisions and the generators' evaluations name reward models by id:
    # point them at the copies, or the gate would think it was never calibrated.
    for gate in Gate.objects.all():
        remapped = _remap(gate.model_versions, mapping)
        if remapped != gate.model_versions:
            gate.model_versions = remapped
            gate.save(update_fields=["model_versions"])
    changed = []
    for decision in Decision.objects.only("pk", "model_versions").iterator(chunk_size=BATCH):
        remapped = _remap(decision.model_versions, mapping)
        if remapped != decision.model_versions:
            decision.model_versions = remapped
            changed.append(decision)
        if len(changed) >= BATCH:
            Decision.objects.bulk_update(changed, ["model_versions"])
            changed = []
    if changed:
        Decision.objects.bulk_update(changed, ["model_versions"])
    for generator in New.objects.filter(family="generator"):
        used = generator.metrics.get("reward_models") if isinstance(generator.metrics, dict) else None
        if isinstance(used, dict):
            generator.metrics = {**generator.metrics, "reward_models": _remap(used, mapping)}
            generator.save(update_fields=["metrics"])


def keep_copies(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    """Going back leaves the copied rows in the unified table (rewards 0002 reversed
    recreates an empty rewards.ModelVersion): the copy cannot be told apart from a reward
    model trained later, so nothing is deleted."""


class Migration(migrations.Migration):
    dependencies = [
        ("rewards", "0001_initial"),
        ("workers", "0004_model_registry"),
    ]

    operations = [
        migrations.RunPython(copy_reward_models, keep_copies),
    ]
