from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jdreview.demo_accounts import DEMO_PASSWORD, DEMO_USERS
from jdreview.loops import all_loops, resolve
from jdreview.models import Membership, Project
from jdreview.roles import Role, ensure_role_groups
from labeling.management.commands.seed_world import print_progress
from labeling.models import Annotation
from labeling.world_seed import simulate_labels, world_seed
from rewards.audits import gate_for
from rewards.calibration_audit import simulate_calibration_audit
from rewards.registry import live_versions
from rewards.scoring import gate_calibrate, images_score
from rewards.training import train_aspects

# The demo's gate proves 90% usable, not the 98% default: its ~1,000 audited held-out images
# and models trained on 4,000 images cannot prove 98% (bench/gate.py does, with 6,000
# training images and 7,000 audited ones). Managers change it under "Gate settings" on the
# models page.
DEMO_GATE_TARGET = 0.9
GUIDELINES = (
    "Judge the ad image against the product's reference cut-out.\n\n"
    "Shape: the product must look like the reference: not stretched or warped, no extra "
    "parts (stands, bases) that the product does not have, nothing cut away.\n\n"
    "Placement: the product stands on the surface (not floating), near the centre, at a "
    "sensible size, entirely inside the canvas.\n\n"
    "Color: the background suits the product and lets it stand out; not clashing, not so "
    "close to the product's colour that it blends in.\n\n"
    "Usable: yes only when all three are ok and you would publish the ad."
)


class Command(BaseCommand):
    help = "Create the demo: roles, accounts, a project of world ad images, simulated labels."

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

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.monotonic()
        seed = int(opts["seed"])
        target = float(opts["gate_target"])
        if not 0.5 <= target < 1.0:
            raise CommandError(f"--gate-target must be in [0.5, 1), got {target}")
        project = self._accounts_and_project(target)
        self.stdout.write("Composing world ad images…")
        world_seed(
            project=project,
            images=int(opts["images"]),
            seed=seed,
            progress=print_progress,
            processes=2,
        )
        self._simulate(project, "simulated", int(opts["labels"]), overlap=1, seed=seed)
        self._simulate(
            project,
            "simulated",
            int(opts["labels"]) + int(opts["overlap_labels"]),
            overlap=2,
            seed=seed + 1,
        )
        self.stdout.write("Ops auditors labeling the held-out split the gate is calibrated on…")
        audited = simulate_calibration_audit(
            project=project, seed=seed + 2, progress=print_progress
        )
        print_progress(1.0, f"{audited} audit labels")
        if not opts["no_models"]:
            self._models(project)
            self.stdout.write("New ad images arrive for the gate…")
            world_seed(
                project=project,
                images=int(opts["new_images"]),
                seed=seed + 1000,
                gold_share=0.0,
                progress=print_progress,
                processes=2,
            )
            counts = images_score(project, progress=print_progress)
            self.stdout.write(
                f"  gate: {counts['launch']} launched, {counts['review']} to human review, "
                f"{counts['reject']} rejected (of {counts['scored']} newly scored)"
            )
        if not opts["no_models"] and not opts["no_loops"]:
            self._loops(seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready in {time.monotonic() - started:.0f} s. "
                f"Accounts (password: {DEMO_PASSWORD}):"
            )
        )
        for username, _, what in DEMO_USERS:
            self.stdout.write(f"  {username:<11} {what}")

    def _loops(self, seed: int) -> None:
        """The other loops' demo projects; each seed is idempotent and tiny-config."""
        for loop in all_loops():
            if loop.demo:
                self.stdout.write(f"{loop.demo_title}…")
                resolve(loop.demo)(log=self.stdout.write, seed=seed)

    def _accounts_and_project(self, target: float) -> Project:
        groups = ensure_role_groups()
        project, created = Project.objects.get_or_create(
            slug="ad-images",
            defaults={
                "name": "Ad images",
                "overlap": 1,
                "gold_share": 0.05,
                "description": "Ad images from the benchmark world.",
                "guidelines": GUIDELINES,
            },
        )
        User = get_user_model()
        for username, role, _ in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(DEMO_PASSWORD)
                user.is_staff = role == Role.ADMIN
                user.is_superuser = role == Role.ADMIN
                user.save()
            user.groups.add(groups[role])
            Membership.objects.get_or_create(project=project, user=user)
        if created:
            gate = gate_for(project)
            gate.target = target
            gate.save(update_fields=["target"])
        return project

    def _simulate(
        self, project: Project, source: str, want: int, *, overlap: int, seed: int
    ) -> None:
        have = Annotation.objects.filter(project=project, source=source).count()
        if have >= want:
            return
        if project.overlap != overlap:
            project.overlap = overlap
            project.save(update_fields=["overlap"])
        self.stdout.write(f"Simulated reviewers labeling (overlap {overlap})…")
        simulate_labels(
            project=project, reviewers=6, labels=want - have, seed=seed, progress=print_progress
        )
        print_progress(1.0, f"{want - have} labels")

    def _models(self, project: Project) -> None:
        if len(live_versions(project)) < 3:
            self.stdout.write("Training the aspect reward models…")
            train_aspects(project=project, reporter=_PrintReporter(self.stdout))
            self.stdout.write("Calibrating the launch gate…")
            result = gate_calibrate(project)
            self.stdout.write(f"  {result}")


class _PrintReporter:
    """Just enough of a job reporter to show training progress on the terminal."""

    def __init__(self, out: Any) -> None:
        self.out = out

    def progress(self, fraction: float, *, metrics: Any = None, log: str | None = None) -> None:
        print_progress(min(fraction, 0.999), log or "")

    def log(self, line: str) -> None:
        self.out.write(f"\n  {line}")
