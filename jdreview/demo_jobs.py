"""The demo's data as a job.

``./dev.sh up`` starts the site as soon as the accounts and the demo projects exist
(:func:`demo_setup`, seconds); one ``seed_demo`` job then prepares the data on the worker,
part after part (each loop, and the ad images with their reward models and gate). The job's
metrics keep each part's progress, which the home page shows as bars and each loop's pages
read to say "being prepared" until their part is done (``{% demo_preparing project %}``,
jdreview/templatetags/demo.py). ``manage.py seed_demo`` without ``--enqueue`` runs the same
parts in its own process, for tests and scripts.

One job rather than one per part: the worker's second slot stays free for the readiness
heartbeats and for people's own jobs while the demo is prepared, and the image generator,
which needs the ad images, simply comes after them. A part is a list of steps ``(title,
share of the part's time, step)``; every step checks what exists, so a second run adds only
what is missing.
"""

from __future__ import annotations

import importlib
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from jdreview.demo_accounts import DEMO_PASSWORD, DEMO_USERS
from jdreview.loops import all_loops
from jdreview.models import Project
from jdreview.projects import membership_set
from jdreview.roles import Role, ensure_role_groups
from workers.models import Job
from workers.params import SEED_MAX, param
from workers.registry import register
from workers.reporter import Reporter

if TYPE_CHECKING:
    from workers.reporter import JobReporter

DEMO_KIND = "seed_demo"
IMAGES_SLUG = "ad-images"
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
# A step: step(project, *, log, reporter, seed); its reporter's 0..1 is the step's own.
Step = Callable[..., None]
Steps = list[tuple[str, float, Step]]
PENDING = (Job.Status.QUEUED, Job.Status.RUNNING)


@dataclass(frozen=True)
class SeedDemoParams:
    images: int = param(5000, low=1, high=20_000, help="labeled world images")
    new_images: int = param(500, low=1, high=20_000, help="fresh images for the gate to decide")
    labels: int = param(5000, low=1, high=50_000, help="simulated labels")
    overlap_labels: int = param(
        600, low=0, high=50_000, help="second labels on labeled items, for agreement"
    )
    seed: int = param(7, low=0, high=SEED_MAX)
    no_models: bool = param(False, help="skip training, calibration, scoring and the loops")
    no_loops: bool = param(False, help="skip the generator, query-expansion and agent demos")


@dataclass(frozen=True)
class DemoPart:
    name: str  # "images", or the loop's name
    title: str
    project: Project
    steps: Steps
    weight: float  # a rough share of the whole job's time


def demo_setup(*, gate_target: float = DEMO_GATE_TARGET) -> list[Project]:
    """What the site needs before its first page (seconds): the role groups, the demo
    accounts and every demo project with its members. Idempotent; an existing project's
    gate keeps its target."""
    ensure_role_groups()
    project, created = Project.objects.get_or_create(
        slug=IMAGES_SLUG,
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
        user, new = User.objects.get_or_create(username=username)
        if new:
            user.set_password(DEMO_PASSWORD)
            user.is_staff = role == Role.ADMIN
            user.is_superuser = role == Role.ADMIN
            user.save()
        membership_set(project=project, user=user, role=role)
    if created:
        from rewards.audits import gate_for

        gate = gate_for(project)
        gate.target = gate_target
        gate.save(update_fields=["target"])
    projects = [project]
    for loop in all_loops():
        if loop.demo:
            loop_project = _demo_module(loop.demo).demo_project()
            if loop_project not in projects:
                projects.append(loop_project)
    return projects


def _demo_module(dotted: str) -> Any:
    """A loop's demo module ('module:seed'): it has demo_project() and STEPS beside seed()."""
    return importlib.import_module(dotted.partition(":")[0])


def demo_parts(params: SeedDemoParams) -> list[DemoPart]:
    """The parts in the order they run: the loops with their own project first (each a
    minute or two), then the ad images, then the loops that need them (the generator)."""
    images = Project.objects.get(slug=IMAGES_SLUG)
    # About 7 minutes for the default 5,000 images on a quiet 2-core machine, the loops one
    # to two minutes each: only the bars' relative speed depends on these.
    image_part = DemoPart(
        "images", "Ad images", images, _image_steps(params), 1.0 + 6.0 * params.images / 5000
    )
    first: list[DemoPart] = []
    last: list[DemoPart] = []
    if not (params.no_models or params.no_loops):
        for loop in all_loops():
            if not loop.demo:
                continue
            module = _demo_module(loop.demo)
            project = module.demo_project()
            part = DemoPart(loop.name, loop.title, project, module.STEPS, 1.5)
            (last if project.pk == images.pk else first).append(part)
    return [*first, image_part, *last]


def _image_steps(params: SeedDemoParams) -> Steps:
    from labeling.world_seed import world_seed
    from rewards.calibration_audit import simulate_calibration_audit
    from rewards.registry import live_versions
    from rewards.scoring import gate_calibrate, images_score
    from rewards.training import train_aspects

    # A Celery pool process is a daemon, which may not fork a pool of its own: there the
    # images are composed in one process (the worker's other slot stays free anyway).
    processes = 1 if multiprocessing.current_process().daemon else 2

    def compose(project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int):
        log(f"Composing {params.images} world ad images…")
        world_seed(
            project=project,
            images=params.images,
            seed=seed,
            progress=reporter.stage(),
            processes=processes,
        )

    def label(project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int):
        _simulate(project, params.labels, overlap=1, seed=seed, log=log, reporter=reporter)
        _simulate(
            project,
            params.labels + params.overlap_labels,
            overlap=2,
            seed=seed + 1,
            log=log,
            reporter=reporter,
        )

    def audit(project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int):
        log("Ops auditors labeling the held-out split the gate is calibrated on…")
        audited = simulate_calibration_audit(
            project=project, seed=seed + 2, progress=reporter.stage()
        )
        log(f"{audited} audit labels")

    def train(project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int):
        if len(live_versions(project)) >= 3:
            return
        log("Training the aspect reward models…")
        train_aspects(project=project, reporter=reporter)
        log("Calibrating the launch gate…")
        log(f"{gate_calibrate(project)}")

    def arrive(project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int):
        log(f"{params.new_images} new ad images arrive for the gate…")
        world_seed(
            project=project,
            images=params.new_images,
            seed=seed + 1000,
            gold_share=0.0,
            progress=reporter.stage(),
            processes=processes,
        )

    def decide(project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int):
        counts = images_score(project, progress=reporter.stage())
        log(
            f"gate: {counts['launch']} launched, {counts['review']} to human review, "
            f"{counts['reject']} rejected (of {counts['scored']} newly scored)"
        )

    share = params.images / 5000
    steps: Steps = [
        ("composing world ad images", 2.0 * share, compose),
        ("simulated reviewers labeling", 1.0 * share, label),
        ("the ops calibration audit", 0.5 * share, audit),
    ]
    if not params.no_models:
        steps += [
            ("training the aspect reward models", 2.5, train),
            ("new ad images for the gate", 0.3 * params.new_images / 500, arrive),
            ("the gate decides", 0.2, decide),
        ]
    return steps


def _simulate(
    project: Project,
    want: int,
    *,
    overlap: int,
    seed: int,
    log: Callable[[str], None],
    reporter: Reporter,
) -> None:
    from labeling.models import Annotation
    from labeling.world_seed import simulate_labels

    have = Annotation.objects.filter(project=project, source="simulated").count()
    if have >= want:
        return
    if project.overlap != overlap:
        project.overlap = overlap
        project.save(update_fields=["overlap"])
    log(f"Simulated reviewers labeling (overlap {overlap})…")
    simulate_labels(
        project=project, reviewers=6, labels=want - have, seed=seed, progress=reporter.stage()
    )
    log(f"{want - have} labels")


class _Span(Reporter):
    """The reporter of one part (or step) of the work: its 0..1 is ``start``..``end`` of
    its parent's bar. ``moved`` hears the span's own fraction (the part's bar); metrics of
    the work inside (a training run's losses) are not the seed job's and are dropped."""

    def __init__(
        self,
        parent: Reporter,
        start: float,
        end: float,
        moved: Callable[[float], dict[str, Any] | None] | None = None,
    ) -> None:
        self.parent, self.start, self.end, self.moved = parent, start, end, moved

    def progress(
        self, fraction: float, *, metrics: dict[str, Any] | None = None, log: str | None = None
    ) -> None:
        fraction = max(0.0, min(1.0, float(fraction)))
        own = self.moved(fraction) if self.moved else None
        self.parent.progress(self.start + (self.end - self.start) * fraction, metrics=own, log=log)

    def log(self, line: str) -> None:
        self.parent.log(line)


def demo_prepare(
    params: SeedDemoParams, *, reporter: Reporter, keep_going: bool = False
) -> dict[str, Any]:
    """Run every part of the demo's data in order, each part's progress in the metrics'
    ``parts`` (see :func:`demo_progress`). With ``keep_going`` (the job), a failed part
    does not stop the parts after it, except those on its project, which may need it; the
    failures are raised at the end."""
    started = time.monotonic()
    # A job's reporter writes at most twice a second; a step's end is written at once, so
    # the bars are right while a quiet step (a loop's training, run as its own job) runs.
    flush: Callable[[], None] = getattr(reporter, "flush", lambda: None)
    parts = demo_parts(params)
    state = {part.name: _part_state(part) for part in parts}
    total = sum(part.weight for part in parts) or 1.0
    failed: dict[str, str] = {}
    done = 0.0
    for part in parts:
        entry = state[part.name]
        start, end = done / total, (done + part.weight) / total
        done += part.weight
        broken = [name for name in failed if state[name]["project"] == part.project.pk]
        if broken:
            entry["status"] = "failed"
            failed[part.name] = f"not run: {state[broken[0]]['title']} failed"
            reporter.log(f"{part.title}: {failed[part.name]}")
            continue

        def moved(fraction: float, entry: dict[str, Any] = entry) -> dict[str, Any]:
            entry["progress"] = round(fraction, 3)
            return {"parts": state}

        entry["status"] = "running"
        span = _Span(reporter, start, end, moved)
        span.progress(0.0, log=f"{part.title}…")
        try:
            _steps_run(part, reporter=span, seed=params.seed, flush=flush)
        except Exception as exc:
            if not keep_going:
                raise
            entry["status"] = "failed"
            failed[part.name] = f"{type(exc).__name__}: {exc}"
            reporter.progress(end, metrics={"parts": state}, log=f"{part.title} failed: {exc}")
            flush()
            continue
        entry["status"] = "done"
        span.progress(1.0, log=f"{part.title}: ready")
        flush()
    if failed:
        raise RuntimeError(
            "; ".join(f"{state[name]['title']}: {error}" for name, error in failed.items())
        )
    return {"parts": state, "seconds": round(time.monotonic() - started)}


def _part_state(part: DemoPart) -> dict[str, Any]:
    return {"title": part.title, "project": part.project.pk, "progress": 0.0, "status": "waiting"}


def _steps_run(part: DemoPart, *, reporter: Reporter, seed: int, flush: Callable[[], None]) -> None:
    total = sum(share for _, share, _ in part.steps) or 1.0
    done = 0.0
    for title, share, step in part.steps:
        span = _Span(reporter, done / total, (done + share) / total)
        done += share
        span.progress(0.0, log=title)
        step(part.project, log=reporter.log, reporter=span, seed=seed)
        span.progress(1.0)
        flush()


@register(
    DEMO_KIND,
    queue="cpu",
    title="Prepare the demo's data",
    params=SeedDemoParams,
    offered=False,  # started by demo_enqueue, not from a project's jobs form
)
def run_seed_demo(job: Job, reporter: JobReporter, params: SeedDemoParams) -> dict[str, Any]:
    if job.project is None or job.project.slug != IMAGES_SLUG:
        raise ValueError(f"the demo is prepared by a job of the {IMAGES_SLUG!r} project")
    with _heartbeat(job):
        return demo_prepare(params, reporter=reporter, keep_going=True)


@contextmanager
def _heartbeat(job: Job) -> Iterator[None]:
    """Some steps report nothing to this job for minutes (the loops' training runs as jobs
    of their own, in this process), and those jobs may be quiet for minutes on a loaded
    machine too: without a heartbeat the reaper would fail them (JOB_HEARTBEAT_TIMEOUT_S).
    A thread beats for this job and the jobs this process runs while it runs."""
    from django.conf import settings
    from django.db import DatabaseError, connection
    from django.utils import timezone

    stop = threading.Event()
    every = max(1.0, settings.JOB_HEARTBEAT_TIMEOUT_S / 4)

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    now = timezone.now()
                    # With the jobs it runs in this process (its worker's name).
                    Job.objects.filter(
                        Q(pk=job.pk) | Q(worker=job.worker), status=Job.Status.RUNNING
                    ).update(heartbeat_at=now)
                    # And the bar as it stands: the reporter writes at most twice a second,
                    # so a milestone reported just after another waits for the next write.
                    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
                        progress=job.progress, metrics=job.metrics
                    )
                except DatabaseError:  # a busy or restarting database: the next beat
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"job-{job.pk}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def demo_enqueue(params: dict[str, Any]) -> tuple[Job | None, str]:
    """Start the ``seed_demo`` job (after :func:`demo_setup`), started by the demo's admin
    through ``job_start`` like any job; returns it, or None and why not: a seed job is
    already under way, or the last one prepared the demo with these parameters."""
    from workers.registry import get_kind
    from workers.services import job_start

    under_way = Job.objects.filter(kind=DEMO_KIND, status__in=PENDING).order_by("-pk").first()
    if under_way is not None:
        return None, f"job #{under_way.pk} is already preparing the demo"
    project = Project.objects.get(slug=IMAGES_SLUG)
    admin = get_user_model().objects.get(username=DEMO_USERS[0][0])
    kind = get_kind(DEMO_KIND)
    clean = kind.params_clean(params)
    last = Job.objects.filter(kind=DEMO_KIND).order_by("-pk").first()
    if last is not None and last.status == Job.Status.SUCCEEDED and last.params == clean:
        return None, f"job #{last.pk} prepared it already"
    parts = demo_parts(kind.params_parse(clean))
    with transaction.atomic():
        job = job_start(project=project, kind=DEMO_KIND, params=clean, user=admin)
        # The plan, before a worker takes the job: the loops' pages say "being prepared"
        # from the start, not only once their part runs.
        job.metrics = {"parts": {part.name: _part_state(part) for part in parts}}
        Job.objects.filter(pk=job.pk).update(metrics=job.metrics)
    return job, f"job #{job.pk} prepares the demo on the worker"


@dataclass(frozen=True)
class PartProgress:
    """One part of the demo's preparation, as the pages show it."""

    name: str
    title: str
    project_id: int
    percent: int
    status: str  # waiting, running, done or failed


@dataclass(frozen=True)
class DemoProgress:
    job: Job
    parts: list[PartProgress]
    job_visible: bool = False

    @property
    def pending(self) -> bool:
        return self.job.status in PENDING


def demo_progress() -> DemoProgress | None:
    """The latest seed job while it is queued or running, or when it failed (its pages say
    so instead of showing empty); None on a site whose demo is ready, or that has none."""
    job = Job.objects.filter(kind=DEMO_KIND).order_by("-pk").first()
    if job is None or job.status == Job.Status.SUCCEEDED:
        return None
    parts = []
    for name, entry in (job.metrics.get("parts") or {}).items():
        status = entry.get("status", "waiting")
        if job.status == Job.Status.FAILED and status in ("waiting", "running"):
            status = "failed"
        parts.append(
            PartProgress(
                name=name,
                title=str(entry.get("title", name)),
                project_id=int(entry.get("project", 0)),
                percent=round(100 * float(entry.get("progress", 0.0))),
                status=status,
            )
        )
    return DemoProgress(job=job, parts=parts)


def demo_progress_for(user: Any) -> DemoProgress | None:
    """:func:`demo_progress` as ``user`` may see it: the parts of their projects only, and
    whether the job's own page is theirs to open (its project, and the right to see jobs)."""
    from jdreview.access import projects_for
    from jdreview.roles import PERM_MODELS, has_perm

    progress = demo_progress()
    if progress is None:
        return None
    wanted = {part.project_id for part in progress.parts}
    if progress.job.project_id is not None:
        wanted.add(progress.job.project_id)
    visible = set(projects_for(user).filter(pk__in=wanted).values_list("pk", flat=True))
    parts = [part for part in progress.parts if part.project_id in visible]
    if not parts:
        return None
    job_visible = progress.job.project_id in visible and has_perm(user, PERM_MODELS)
    return DemoProgress(job=progress.job, parts=parts, job_visible=job_visible)
