"""Imports point down: the ML packages import no Django and no app code, and the Django
apps' models and views import no torch. Each check runs in a fresh interpreter, so what
another test imported cannot hide or fake a dependency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

ML_PACKAGES = [
    "rewards.ml",
    "workers.qe.ml.reward",
    "workers.agents.ml.judge",
    "workers.ml.runtime",
    "workers.ml.lm",
    "workers.imagegen.ml",
    "workers.qe.ml",
    "workers.agents.ml",
]
# What ML code may import from this project: the other ML packages and the benchmark world
# (plain Python; its catalog and products are the fixtures the pipelines train on).
ML_ALLOWED = (
    "rewards.ml",
    "workers.ml",
    "workers.qe.ml",
    "workers.agents.ml",
    "workers.imagegen.ml",
    "labeling.world",
)
PROJECT = ("jdreview", "labeling", "rewards", "workers")
# Packages whose __init__ runs on the way to an ML package: a docstring, nothing imported.
BARE = (*PROJECT, "workers.qe", "workers.agents", "workers.imagegen")

DJANGO_MODULES = [
    "labeling.models",
    "rewards.models",
    "workers.models",
    "jdreview.models",
    "labeling.schemas",
    "labeling.items",
    "labeling.views",
    "rewards.views",
    "workers.views",
    "jdreview.views",
    "workers.qe.views",
    "workers.agents.views",
    "workers.imagegen.views",
    "workers.qe.charts",
]


def _run(code: str) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "jdreview.settings"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", ML_PACKAGES)
def test_an_ml_package_imports_no_django_and_no_app(package: str) -> None:
    loaded = _run(
        f"""
import importlib, json, pkgutil, sys
root = importlib.import_module({package!r})
for info in pkgutil.walk_packages(getattr(root, "__path__", []), root.__name__ + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""
    )
    django = [m for m in loaded if m == "django" or m.startswith("django.")]
    assert django == []
    app = [
        m
        for m in loaded
        if m.split(".")[0] in PROJECT
        and m not in BARE
        and not any(m == a or m.startswith(a + ".") for a in ML_ALLOWED)
    ]
    assert app == []


def test_the_agent_world_does_not_import_its_scorers() -> None:
    loaded = _run(
        """
import importlib, json, pkgutil, sys
import workers.agents.ml as root
# iter_modules, not walk_packages: walking imports every subpackage, the judge's too.
for info in pkgutil.iter_modules(root.__path__, root.__name__ + "."):
    if info.name != "workers.agents.ml.judge":
        importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""
    )
    assert [m for m in loaded if m.startswith("workers.agents.ml.judge")] == []


def test_django_models_and_views_import_no_torch() -> None:
    result = _run(
        f"""
import importlib, json, sys
import django
django.setup()
for name in {DJANGO_MODULES!r}:
    importlib.import_module(name)
from workers.qe.ml.reward import DEFAULT_WEIGHTS  # the RL chart on the managers' dashboard reads it
from workers.qe.charts import reward_svg
reward_svg([{{"reward": 0.1, "reward/format": 0.2}}, {{"reward": 0.3}}], ["format"])
print(json.dumps({{"torch": "torch" in sys.modules}}))
"""
    )
    assert result == {"torch": False}


def test_the_aspect_lists_come_from_the_registry() -> None:
    from labeling.items import AD_FIELDS
    from labeling.schemas import AD_ASPECTS
    from rewards.ml.aspects import default_registry
    from workers.imagegen.evaluation import ASPECTS

    names = tuple(s.name for s in default_registry().models())
    assert AD_ASPECTS == ASPECTS == names
    assert (*names, "usable") == AD_FIELDS
