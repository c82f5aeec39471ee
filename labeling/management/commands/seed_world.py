from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jdreview.models import Project
from labeling.world_seed import world_seed


def print_progress(fraction: float, message: str) -> None:
    width = 30
    filled = int(fraction * width)
    sys.stdout.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {message}   ")
    sys.stdout.flush()
    if fraction >= 1:
        sys.stdout.write("\n")


class Command(BaseCommand):
    help = "Add ad images from the benchmark world to a project (deterministic for a seed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--project", default="ad-images", help="project slug")
        parser.add_argument("--gold-share", type=float, default=0.05)

    def handle(self, *args: object, **opts: object) -> None:
        images = int(opts["images"])  # type: ignore[call-overload]
        if images < 1:
            raise CommandError("--images must be at least 1")
        gold_share = float(opts["gold_share"])  # type: ignore[arg-type]
        if not 0 <= gold_share <= 1:
            raise CommandError("--gold-share must be between 0 and 1")
        slug = str(opts["project"])
        project, created = Project.objects.get_or_create(
            slug=slug, defaults={"name": slug.replace("-", " ").capitalize()}
        )
        if created:
            self.stdout.write(f"created project {slug}")
        n = world_seed(
            project=project,
            images=images,
            seed=int(opts["seed"]),  # type: ignore[call-overload]
            gold_share=gold_share,
            progress=print_progress,
        )
        self.stdout.write(self.style.SUCCESS(f"{n} new images in project {slug}"))
