"""One registry of trained models: PipelineVersion becomes ModelVersion and gains the
reward models' fields and a slot (the aspect of a reward model). 0005 copies the rows of
rewards.ModelVersion in; rewards 0002 then drops that table."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jdreview", "0001_initial"),
        ("workers", "0003_job_dispatched_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="pipelineversion", name="unique_pipeline_version"),
        migrations.RemoveConstraint(model_name="pipelineversion", name="one_live_pipeline_version"),
        migrations.RenameModel(old_name="PipelineVersion", new_name="ModelVersion"),
        migrations.AddField(
            model_name="modelversion",
            name="slot",
            field=models.CharField(
                blank=True, default="", help_text="The aspect of a reward model.", max_length=50
            ),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="label_snapshot",
            field=models.JSONField(
                blank=True, default=dict, help_text="Which labels it was trained on."
            ),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="loss_curve",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="promoted_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="promoted_model_versions",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="promotion_note",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AlterField(
            model_name="modelversion",
            name="family",
            field=models.CharField(
                choices=[
                    ("aspect_reward", "Aspect reward model"),
                    ("generator", "Image generator"),
                    ("query_expansion", "Query-expansion model"),
                    ("agent_policy", "Agent policy"),
                ],
                max_length=30,
            ),
        ),
        migrations.AlterField(
            model_name="modelversion",
            name="status",
            field=models.CharField(
                choices=[
                    ("candidate", "Candidate"),
                    ("live", "Live"),
                    ("retired", "Retired"),
                    ("rejected", "Rejected"),
                ],
                default="candidate",
                max_length=12,
            ),
        ),
        migrations.AlterField(
            model_name="modelversion",
            name="name",
            field=models.CharField(
                help_text="What made it: 'train', 'pretrain', 'sft', 'ppo', 'rl', 'pruned'…",
                max_length=100,
            ),
        ),
        migrations.AlterField(
            model_name="modelversion",
            name="project",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="model_versions",
                to="jdreview.project",
            ),
        ),
        migrations.AlterModelOptions(
            name="modelversion",
            options={"ordering": ["project", "family", "slot", "-version"]},
        ),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(
                fields=("project", "family", "slot", "version"), name="unique_version_per_slot"
            ),
        ),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "live")),
                fields=("project", "family", "slot"),
                name="one_live_version_per_slot",
            ),
        ),
    ]
