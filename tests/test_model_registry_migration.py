"""The move of reward models into the one registry keeps every row: the data migration
copies rewards.ModelVersion into workers.ModelVersion (numbers, statuses, metrics,
artifact paths, job and promoter) and points the gate, its decisions and the generators'
evaluations at the copies."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("workers", "0003_job_dispatched_at"), ("rewards", "0001_initial")]
AFTER = [("workers", "0005_copy_reward_models"), ("rewards", "0002_model_versions_move_to_workers")]

pytestmark = pytest.mark.backend


def _migrate(targets: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    """Migrate workers and rewards to ``targets``, every other app to its latest (so the
    historical models match the tables they write to)."""
    executor = MigrationExecutor(connection)
    apps = {app for app, _ in targets}
    plan = targets + [n for n in executor.loader.graph.leaf_nodes() if n[0] not in apps]
    executor.migrate(plan)
    executor.loader.build_graph()
    return executor.loader.project_state(plan).apps


@pytest.fixture
def at_latest():  # type: ignore[no-untyped-def]
    yield
    # Leave the schema as the other tests expect it, whatever happened above.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_reward_models_move_into_the_one_registry_with_their_ids_remapped(at_latest):  # type: ignore[no-untyped-def]
    old = _migrate(BEFORE)
    User = old.get_model("auth", "User")
    Project = old.get_model("jdreview", "Project")
    Job = old.get_model("workers", "Job")
    Item = old.get_model("labeling", "Item")
    OldVersion = old.get_model("rewards", "ModelVersion")
    PipelineVersion = old.get_model("workers", "PipelineVersion")
    Gate = old.get_model("rewards", "Gate")
    Decision = old.get_model("rewards", "Decision")

    manager = User.objects.create(username="mia")
    project = Project.objects.create(name="Ads", slug="ads")
    job = Job.objects.create(kind="train_rewards", project=project)
    # A generator first, so the copies cannot keep the reward rows' ids.
    generator = PipelineVersion.objects.create(
        project=project, family="generator", version=1, name="base", artifact="g/v1"
    )
    trained = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    rows = {}
    for aspect, number, status in [
        ("shape", 1, "retired"),
        ("shape", 2, "live"),
        ("color", 1, "live"),
        ("color", 2, "rejected"),
    ]:
        rows[(aspect, number)] = OldVersion.objects.create(
            project=project,
            aspect=aspect,
            version=number,
            status=status,
            config={"input_size": 96},
            artifact=f"ads/{aspect}/v{number}",
            label_snapshot={"annotations": 140, "max_annotation_id": 7},
            metrics={"auc": 0.9},
            loss_curve=[0.7, 0.5],
            job=job,
            promoted_by=manager if status == "live" else None,
            promotion_note="manual" if status == "live" else "",
            promoted_at=trained if status != "rejected" else None,
        )
    OldVersion.objects.filter(pk__in=[r.pk for r in rows.values()]).update(created_at=trained)
    live_ids = {"shape": rows[("shape", 2)].pk, "color": rows[("color", 1)].pk}
    Gate.objects.create(project=project, model_versions=live_ids)
    item = Item.objects.create(project=project)
    Decision.objects.create(
        item=item, project=project, scores={}, model_versions=live_ids, outcome="review"
    )
    generator.metrics = {"reward_models": live_ids}
    generator.save(update_fields=["metrics"])

    new = _migrate(AFTER)
    Version = new.get_model("workers", "ModelVersion")
    assert not any(m._meta.label == "rewards.ModelVersion" for m in new.get_models())
    copies = {(v.slot, v.version): v for v in Version.objects.filter(family="aspect_reward")}
    assert set(copies) == set(rows)
    for key, before in rows.items():
        after = copies[key]
        assert (after.status, after.artifact, after.metrics, after.config) == (
            before.status,
            before.artifact,
            before.metrics,
            before.config,
        )
        assert (after.label_snapshot, after.loss_curve, after.job_id) == (
            before.label_snapshot,
            before.loss_curve,
            job.pk,
        )
        assert (after.promoted_by_id, after.promotion_note, after.promoted_at) == (
            before.promoted_by_id,
            before.promotion_note,
            before.promoted_at,
        )
        assert after.created_at == trained
        assert after.project_id == project.pk and after.name == "train"
    # The generator kept its row and id; what named reward models by id names the copies.
    assert Version.objects.get(family="generator").pk == generator.pk
    new_live = {"shape": copies[("shape", 2)].pk, "color": copies[("color", 1)].pk}
    assert new.get_model("rewards", "Gate").objects.get().model_versions == new_live
    assert new.get_model("rewards", "Decision").objects.get().model_versions == new_live
    assert Version.objects.get(family="generator").metrics == {"reward_models": new_live}


@pytest.mark.django_db(transaction=True)
def test_the_migration_applies_to_an_empty_database(at_latest):  # type: ignore[no-untyped-def]
    _migrate(BEFORE)
    new = _migrate(AFTER)
    assert not new.get_model("workers", "ModelVersion").objects.exists()
