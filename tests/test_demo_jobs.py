"""The demo's first start: accounts and projects at once, the data as a seed_demo job whose
progress the home page and each loop's pages show until it is there."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from jdreview.models import Membership, Project
from labeling.models import Annotation, Item
from tests.factories import UserFactory
from workers.models import Job
from workers.services import job_run

pytestmark = [pytest.mark.django_db]

TINY = ["--images", "40", "--labels", "40", "--overlap-labels", "5", "--new-images", "5"]


def _enqueue(*extra: str) -> Job:
    call_command("seed_demo", "--enqueue", *TINY, *extra)
    return Job.objects.get(kind="seed_demo")


def _login(client, username: str):  # type: ignore[no-untyped-def]
    client.force_login(get_user_model().objects.get(username=username))
    return client


def test_the_fast_seed_makes_accounts_and_projects_and_queues_the_data(no_enqueue) -> None:
    job = _enqueue()
    User = get_user_model()
    assert User.objects.get(username="annotator").check_password("jdreview-demo")
    slugs = set(Project.objects.values_list("slug", flat=True))
    assert {"ad-images", "query-expansion", "agent-traces"} <= slugs
    assert Membership.objects.filter(user__username="manager").count() == len(slugs)
    # Only the job: no data yet.
    assert not Item.objects.exists() and not Annotation.objects.exists()
    assert job.status == Job.Status.QUEUED
    assert job.project is not None and job.project.slug == "ad-images"
    assert job.created_by is not None and job.created_by.username == "admin"
    assert job.params["images"] == 40
    assert {"images", "qe", "agents", "imagegen"} <= set(job.metrics["parts"])
    # Run again while it is queued: no second job.
    _enqueue()
    assert Job.objects.filter(kind="seed_demo").count() == 1


def test_accounts_only_queues_nothing(no_enqueue) -> None:
    call_command("seed_demo", "--accounts-only")
    assert get_user_model().objects.filter(username="admin", is_superuser=True).exists()
    assert Project.objects.filter(slug="ad-images").exists()
    assert not Job.objects.exists()


def test_a_seed_job_prepares_the_images_and_reaches_full_progress(no_enqueue) -> None:
    job = _enqueue("--no-models")
    assert set(job.metrics["parts"]) == {"images"}  # --no-models: no training, no loops
    job_run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.progress == 1.0
    assert job.metrics["parts"]["images"]["status"] == "done"
    assert job.metrics["parts"]["images"]["progress"] == 1.0
    project = Project.objects.get(slug="ad-images")
    assert Item.objects.filter(project=project, kind="ad_image").count() == 40
    assert Annotation.objects.filter(project=project, source="simulated").count() == 45
    assert "Composing 40 world ad images" in job.log_tail
    # Done with these parameters: starting the demo again queues nothing.
    call_command("seed_demo", "--enqueue", *TINY, "--no-models")
    assert Job.objects.filter(kind="seed_demo").count() == 1


def test_a_seed_job_of_another_project_fails_saying_why(no_enqueue) -> None:
    from workers.services import job_create

    job = job_create(kind="seed_demo", params={}, project=Project.objects.create(name="Shoes"))
    job_run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "'ad-images' project" in job.error


def _running(job: Job, **parts: tuple[str, float]) -> None:
    metrics = job.metrics
    for name, (status, progress) in parts.items():
        metrics["parts"][name].update(status=status, progress=progress)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, metrics=metrics)


def test_the_home_page_shows_the_preparation_while_the_job_runs_and_not_after(
    client, no_enqueue
) -> None:
    job = _enqueue()
    _running(job, qe=("done", 1.0), agents=("running", 0.25))
    _login(client, "manager")
    page = client.get(reverse("home")).content.decode()
    assert "The demo is being prepared" in page
    assert 'aria-valuenow="25"' in page and "Agent evaluation" in page
    assert reverse("workers:job", args=[job.pk]) in page
    assert 'hx-trigger="every 2s"' in page
    poll = client.get(reverse("home"), {"part": "preparation"}, HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and "<h1>" not in poll.content.decode()

    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, progress=1.0)
    assert "being prepared" not in client.get(reverse("home")).content.decode()
    poll = client.get(reverse("home"), {"part": "preparation"}, HTTP_HX_REQUEST="true")
    assert poll.headers["HX-Refresh"] == "true"  # the whole page again, with its counts


def test_annotators_see_the_progress_without_the_job_link_and_outsiders_see_nothing(
    client, no_enqueue
) -> None:
    job = _enqueue()
    _login(client, "annotator")
    page = client.get(reverse("home")).content.decode()
    assert "The demo is being prepared" in page
    assert reverse("workers:job", args=[job.pk]) not in page
    client.force_login(UserFactory(username="stranger"))
    assert "being prepared" not in client.get(reverse("home")).content.decode()


def test_a_failed_preparation_says_so_and_how_to_redo_it(client, no_enqueue) -> None:
    job = _enqueue()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="boom")
    _login(client, "manager")
    page = client.get(reverse("home")).content.decode()
    assert "The demo's preparation failed" in page and "./dev.sh up" in page
    assert 'hx-trigger="every 2s"' not in page
    qe = Project.objects.get(slug="query-expansion")
    assert "could not be prepared" in client.get(reverse("qe:loop", args=[qe.pk])).content.decode()


def test_a_loop_page_says_being_prepared_until_its_part_is_done(client, no_enqueue) -> None:
    job = _enqueue()
    qe = Project.objects.get(slug="query-expansion")
    agents = Project.objects.get(slug="agent-traces")
    images = Project.objects.get(slug="ad-images")
    _login(client, "manager")
    page = client.get(reverse("qe:loop", args=[qe.pk])).content.decode()
    assert "being prepared" in page and "waiting for its turn" in page
    assert reverse("workers:job", args=[job.pk]) in page

    _running(job, qe=("done", 1.0), agents=("running", 0.5))
    assert "being prepared" not in client.get(reverse("qe:loop", args=[qe.pk])).content.decode()
    agents_page = client.get(reverse("agents:overview", args=[agents.pk])).content.decode()
    assert "being prepared (Agent evaluation: 50%)" in agents_page
    # The image project waits on its own part and on the generator's.
    assert "being prepared" in client.get(reverse("project", args=[images.pk])).content.decode()

    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    assert "being prepared" not in client.get(reverse("project", args=[images.pk])).content.decode()


def test_pages_of_a_site_without_a_demo_show_no_preparation(client, manager, project) -> None:
    client.force_login(manager)
    assert "being prepared" not in client.get(reverse("home")).content.decode()
    assert (
        "being prepared" not in client.get(reverse("project", args=[project.pk])).content.decode()
    )
