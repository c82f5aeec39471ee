"""The loops: each one (image generation, query expansion, agent evaluation) is one folder,
``workers/<loop>/``, and one registration, made by its Django app when it is ready.

A loop brings its pages (one URL module, included at the site root), its dashboard panel,
its demo seed, the links it adds to a project's page, and what makes a project take part
in it (item kinds, model families). Its job kinds and review kind register themselves when
its app imports them in ``ready()``. Nothing outside the loop's folder names it: adding a
loop is adding its app to ``INSTALLED_APPS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import AppConfig


@dataclass(frozen=True)
class Panel:
    """A loop's section of the managers' dashboard for one project."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Loop:
    name: str
    title: str
    # The module of its URL patterns (pages and API), with its own app_name.
    urls: str
    # "module:function": panel(project) -> jdreview.panels.Panel | None, on the dashboard.
    panel: str = ""
    # "module:function": seed(log=, seed=), the loop's part of `manage.py seed_demo`.
    demo: str = ""
    demo_title: str = ""
    # The project page's links to the loop (a template partial given `project`, `can`).
    links_template: str = ""
    # A project takes part when it has items of these kinds or models of these families
    # (or, with active_when_empty, when it has neither yet: where new projects start).
    # The families are also what the model registry accepts from the loop.
    item_kinds: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    active_when_empty: bool = False

    def is_active(self, kinds: set[str], families: set[str]) -> bool:
        if self.active_when_empty and not (kinds or families):
            return True
        return bool(kinds & set(self.item_kinds)) or bool(families & set(self.families))


_LOOPS: dict[str, Loop] = {}


def loop_register(loop: Loop) -> Loop:
    if loop.name in _LOOPS and _LOOPS[loop.name] != loop:
        raise ValueError(f"a different loop is already registered as {loop.name!r}")
    _LOOPS[loop.name] = loop
    return loop


def all_loops() -> list[Loop]:
    return list(_LOOPS.values())


class LoopConfig(AppConfig):
    """The Django app of a loop: it declares its :class:`Loop` and the modules whose import
    registers its job kinds and review kind; ``ready()`` does the rest."""

    loop: Loop
    registers: tuple[str, ...] = ("jobs",)

    def ready(self) -> None:
        for module in self.registers:
            importlib.import_module(f"{self.name}.{module}")
        loop_register(self.loop)


def resolve(dotted: str) -> Callable[..., Any]:
    """'module:function' → the function."""
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)
