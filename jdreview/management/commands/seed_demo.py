from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jdreview.demo_accounts import DEMO_PASSWORD, DEMO_USERS
from jdreview.demo_jobs import (
    DEMO_GATE_TARGET,
    SeedDemoParams,
    demo_enqueue,
    demo_prepare,
    demo_setup,
)
from labeling.management.commands.seed_world import print_progress
from workers.params import ParamError
from workers.reporter import Reporter


class Command(BaseCommand):
    help = (
        "Create the demo: roles, accounts and projects, then its data (world ad images, "
        "simulated labels, reward models and gate, each loop's demo) here, or with "
        "--enqueue as a seed_demo job on the worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--images",
            type=int,
            default=5000,
            help="labeled world images (training and calibration)",
        )
        parser.add_argument(
            "--new-images",
            type=int,
            default=500,
            help="fresh, unlabeled images for the gate to decide",
        )
        parser.add_argument("--labels", type=int, default=5000)
        parser.add_argument(
            "--overlap-labels",
            type=int,
            default=600,
            help="second labels on already labeled items, for agreement",
        )
        parser.add_argument(
            "--gate-target",
            type=float,
            default=DEMO_GATE_TARGET,
            help="usable rate among launched images the demo project's gate must prove",
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--no-models", action="store_true", help="skip training, calibration and scoring"
        )
        parser.add_argument(
            "--no-loops",
            action="store_true",
            help="skip the image-generator, query-expansion and agent demos",
        )
        when = parser.add_mutually_exclusive_group()
        when.add_argument(
            "--accounts-only",
            action="store_true",
            help="only the roles, accounts and projects (seconds): what the first page needs",
        )
        when.add_argument(
            "--enqueue",
            action="store_true",
            help="the accounts and projects now, the data as a seed_demo job on the worker "
            "(progress on the home page); nothing when it is under way or done already",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.monotonic()
        target = float(opts["gate_target"])
        if not 0.5 <= target < 1.0:
            raise CommandError(f"--gate-target must be in [0.5, 1), got {target}")
        raw = {
            "images": opts["images"],
            "new_images": opts["new_images"],
            "labels": opts["labels"],
            "overlap_labels": opts["overlap_labels"],
            "seed": opts["seed"],
            "no_models": opts["no_models"],
            "no_loops": opts["no_loops"],
        }
        from workers.registry import get_kind

        try:
            params: SeedDemoParams = get_kind("seed_demo").params_parse(raw)
        except ParamError as exc:
            raise CommandError(f"--{str(exc).replace('_', '-')}") from None
        projects = demo_setup(gate_target=target)
        if opts["accounts_only"]:
            self.stdout.write(
                f"Demo accounts and projects ready ({', '.join(p.name for p in projects)})."
            )
            self._accounts()
            return
        if opts["enqueue"]:
            _job, why = demo_enqueue(raw)
            self.stdout.write(f"Demo data: {why}.")
            return
        demo_prepare(params, reporter=_PrintReporter(self.stdout))
        self.stdout.write(self.style.SUCCESS(f"Demo ready in {time.monotonic() - started:.0f} s."))
        self._accounts()

    def _accounts(self) -> None:
        self.stdout.write(f"Accounts (password: {DEMO_PASSWORD}):")
        for username, _, what in DEMO_USERS:
            self.stdout.write(f"  {username:<11} {what}")


class _PrintReporter(Reporter):
    """The demo's progress on the terminal: a bar for the whole, and its log lines."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self._last = ""

    def progress(self, fraction: float, *, metrics: Any = None, log: str | None = None) -> None:
        self._last = log or self._last
        print_progress(min(fraction, 0.999), self._last[:60])

    def log(self, line: str) -> None:
        self.out.write(f"\n  {line}")
