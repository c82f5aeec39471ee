"""What a job shows while it runs: the one adapter from an ML function's Progress callback
to the job row (Reporter.stage) fills its part of the bar, writes every n-th step's line to
the log, and merges each step's metrics; work outside a job reports to the console."""

from __future__ import annotations

import pytest
from django.db import transaction

from workers import services
from workers.models import Job
from workers.reporter import JobReporter, LogReporter

pytestmark = pytest.mark.django_db


def _running(project) -> JobReporter:  # type: ignore[no-untyped-def]
    job = Job.objects.create(
        kind="export", project=project, status=Job.Status.RUNNING, metrics={"kept": 1}
    )
    return JobReporter(job, min_interval_s=0)  # every report reaches the row


def _row(reporter: JobReporter) -> Job:
    return Job.objects.get(pk=reporter.job.pk)


def test_a_stage_fills_its_part_of_the_bar_and_logs_every_nth_step(project):
    reporter = _running(project)
    progress = reporter.stage(
        0.1, 0.5, log_every=2, log=lambda f, loss: f"loss at {f:.0%}: {loss:.2f}"
    )
    progress(0.5, 2.0)
    assert _row(reporter).progress == pytest.approx(0.3)
    for fraction, loss in ((1.0, 1.5), (0.25, 9.0)):
        progress(fraction, loss)
    row = _row(reporter)
    assert row.progress == pytest.approx(0.2)  # the bar follows the last report
    assert "loss at 50%: 2.00" not in row.log_tail  # the first of every two is not logged
    assert "loss at 100%: 1.50" in row.log_tail
    assert "9.00" not in row.log_tail


def test_a_stage_merges_each_steps_metrics_into_the_jobs(project):
    reporter = _running(project)
    progress = reporter.stage(0.0, 0.7, metrics=lambda f, m: {**m, "at": f})
    progress(0.5, {"sft_loss": 2.0})
    progress(1.0, {"sft_loss": 1.5})
    row = _row(reporter)
    assert row.metrics == {"kept": 1, "sft_loss": 1.5, "at": 1.0}
    assert row.progress == pytest.approx(0.7)
    assert row.log_tail == ""  # nothing asked for a line


def test_messages_of_django_side_work_are_its_log_lines(project):
    reporter = _running(project)
    progress = reporter.stage(0.0, 0.99)
    progress(0.5, "scripted agent: 5/10 tasks")
    progress(0.9, "")  # an empty message writes no line
    row = _row(reporter)
    assert row.log_tail.splitlines()[-1].endswith("] scripted agent: 5/10 tasks")
    assert len(row.log_tail.splitlines()) == 1 and row.progress == pytest.approx(0.891)


def test_a_job_reaped_meanwhile_is_not_written_to(project):
    reporter = _running(project)
    Job.objects.filter(pk=reporter.job.pk).update(status=Job.Status.FAILED)
    reporter.stage()(0.5, "late")
    row = _row(reporter)
    assert row.status == Job.Status.FAILED and row.log_tail == "" and row.progress == 0.0


def test_outside_a_job_the_lines_go_to_the_console():
    lines: list[str] = []
    reporter = LogReporter(lines.append)
    reporter.stage(0.5, 1.0, metrics=lambda f, m: m)(0.5, {"loss": 1.0})  # metrics: not kept
    reporter.stage(0.5, 1.0)(0.5, "halfway")
    reporter.log("saved v1")
    assert lines == ["   75% halfway", "  saved v1"]


def test_a_job_that_reports_messages_shows_them_in_its_log(project, manager, no_enqueue):
    with transaction.atomic():
        job = services.job_create(
            kind="agent_generate_traces",
            params={"tasks": 2, "runs": 1, "seed": 1},
            project=project,
            user=manager,
        )
    services.job_run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert "2 traces in the review queue" in job.log_tail
