"""Each loop registers itself once (jdreview.loops): its pages are routed, its panel, demo
seed and project links resolve, and its review kind and job kinds are known, with no list
of loops anywhere else."""

from __future__ import annotations

import importlib

import pytest
from django.template.loader import get_template
from django.urls import get_resolver

from jdreview.loops import Loop, all_loops, resolve
from labeling.kinds import spec_for
from workers.registry import all_kinds
from workers.versions import families


def test_the_three_loops_are_registered_by_their_apps() -> None:
    assert {loop.name for loop in all_loops()} == {"imagegen", "qe", "agents"}


@pytest.mark.parametrize("loop", all_loops(), ids=lambda loop: loop.name)
def test_a_loop_brings_everything_it_declares(loop: Loop) -> None:
    # its URL namespace is routed at the site root
    assert loop.name in get_resolver().namespace_dict
    assert callable(resolve(loop.panel)) and callable(resolve(loop.demo))
    get_template(loop.links_template)
    for kind in loop.item_kinds:
        spec_for(kind)  # a registered review kind (ad images are the core's)
    assert set(loop.families) <= families()
    jobs = importlib.import_module(f"workers.{loop.name}.jobs")
    registered = {k.runner.__module__ for k in all_kinds().values()}
    assert jobs.__name__ in registered


def test_a_project_takes_part_by_its_items_and_models() -> None:
    qe = next(loop for loop in all_loops() if loop.name == "qe")
    images = next(loop for loop in all_loops() if loop.name == "imagegen")
    assert qe.is_active({"query_expansion"}, set()) and qe.is_active(set(), {"query_expansion"})
    assert not qe.is_active({"ad_image"}, {"generator"})
    # a project with nothing yet is an ad-image project: where new projects start
    assert images.is_active(set(), set()) and not qe.is_active(set(), set())
