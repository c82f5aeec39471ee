"""Reward models now live in the one registry (workers.ModelVersion, family
"aspect_reward"); workers 0005 copied the rows, so the old table goes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("rewards", "0001_initial"),
        ("workers", "0005_copy_reward_models"),
    ]

    operations = [
        migrations.DeleteModel(name="ModelVersion"),
    ]
