from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from jdreview.models import Membership, Project
from jdreview.roles import Role, ensure_role_groups
from labeling.management.commands.seed_world import print_progress
from labeling.models import Annotation
from labeling.world_seed import simulate_labels, world_seed

DEMO_USERS = [
    ("admin", Role.ADMIN, "admin"),
    ("manager", Role.MANAGER, "manager"),
    ("ops", Role.OPS, "ops reviewer"),
    ("annotator", Role.ANNOTATOR, "annotator"),
    ("annotator2", Role.ANNOTATOR, "annotator"),
]
DEMO_PASSWORD = "jdreview-demo"
GUIDELINES = """Judge the ad image against the product's reference cut-out.

Shape: the product must look like the reference: not stretched or warped, no extra parts
(stands, bases) that the product does not have, nothing cut away.
Placement: the product stands on the surface (not floating), near the centre, at a sensible
size, entirely inside the canvas.
Color: the background suits the product and lets it stand out; not clashing, not so close
to the product's colour that it blends in.
Usable: yes only when all three are ok and you would publish the ad."""


class Command(BaseCommand):
    help = "Create the demo: roles, accounts, a project of world ad images, simulated labels."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=int, default=400)
        parser.add_argument("--labels", type=int, default=500)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: object, **opts: object) -> None:
        groups = ensure_role_groups()
        project, _ = Project.objects.get_or_create(
            slug="ad-images",
            defaults={
                "name": "Ad images",
                "overlap": 2,
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
        self.stdout.write("Composing world ad images…")
        world_seed(
            project=project,
            images=int(opts["images"]),
            seed=int(opts["seed"]),  # type: ignore[call-overload]
            progress=print_progress,
        )
        have = Annotation.objects.filter(project=project, source="simulated").count()
        want = int(opts["labels"])  # type: ignore[call-overload]
        if have < want:
            self.stdout.write("Simulated reviewers labeling…")
            simulate_labels(
                project=project,
                reviewers=6,
                labels=want - have,
                seed=int(opts["seed"]),
                progress=print_progress,
            )  # type: ignore[call-overload]
            print_progress(1.0, "done")
        self.stdout.write(
            self.style.SUCCESS("Demo ready. Accounts (password: %s):" % DEMO_PASSWORD)
        )
        for username, _, what in DEMO_USERS:
            self.stdout.write(f"  {username:<11} {what}")
