"""Factories for test data; images are real PNGs made in memory."""

from __future__ import annotations

import io
import random

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from PIL import Image

from jdreview.models import Membership, Project
from labeling.models import AD_IMAGE, Item


def png_bytes(size: tuple[int, int] = (64, 64), color: tuple[int, int, int] | None = None) -> bytes:
    color = color or tuple(random.randint(0, 255) for _ in range(3))  # type: ignore[assignment]
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    overlap = 1
    gold_share = 0.0
    guidelines = "Judge shape, placement and color."


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    project = factory.SubFactory(ProjectFactory)
    kind = AD_IMAGE
    width = 64
    height = 64
    image = factory.LazyFunction(lambda: ContentFile(png_bytes(), name="item.png"))
    truth = factory.LazyFunction(
        lambda: {
            "aspects": {
                "shape": {"defect": None, "severity": 0.0},
                "placement": {"defect": None, "severity": 0.0},
                "color": {"defect": None, "severity": 0.0},
            },
            "usable": True,
        }
    )


def add_member(user, project: Project) -> None:  # type: ignore[no-untyped-def]
    Membership.objects.get_or_create(user=user, project=project)


GOOD = {"shape": "ok", "placement": "ok", "color": "ok", "usable": "yes"}
BAD_SHAPE = {"shape": "defect", "placement": "ok", "color": "ok", "usable": "no"}


def live_stand_in(project: Project, ensemble, monkeypatch, aspects=("shape", "placement", "color")):  # type: ignore[no-untyped-def]
    """Version 1 of each aspect's reward model, live, with ``ensemble`` (a stand-in that
    scores without weights) as what rewards.scoring loads for it."""
    from rewards import scoring
    from workers.models import ModelVersion

    versions = {
        a: ModelVersion.objects.create(
            project=project,
            family="aspect_reward",
            slot=a,
            version=1,
            name="train",
            status="live",
            artifact="-",
        )
        for a in aspects
    }
    monkeypatch.setattr(scoring, "live_ensemble", lambda p: (ensemble, versions))
    return versions
