"""Job parameters live on the job kind, typed: a kind's dataclass gives the defaults, the
ranges and the help text; the API and every page start jobs through one service that checks
them; the runner gets the dataclass; the generic jobs page renders every kind's fields."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from jdreview.models import Product
from labeling.jobs import SeedWorldParams
from tests.conftest import api_client_for
from workers import registry, services, tasks
from workers.models import Job
from workers.params import ParamError, param
from workers.registry import all_kinds, get_kind, offered_kinds, register

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr("workers.services._enqueue", lambda job_id, queue: None)


def login(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_a_kinds_dataclass_gives_defaults_ranges_and_help_in_one_place():
    fields = {f.name: f for f in get_kind("seed_world").fields}
    assert (fields["images"].default, fields["images"].low, fields["images"].high) == (
        200,
        1,
        20_000,
    )
    assert fields["images"].help and fields["images"].type == "int"
    assert get_kind("seed_world").params_parse({}) == SeedWorldParams(images=200, seed=7)
    prune = {f.name: f for f in get_kind("generator_prune").fields}
    assert prune["eps"].type == "float" and prune["version"].optional
    assert {f.name: f.type for f in get_kind("train_rewards").fields}["aspects"] == "list"
    # Every kind declares its parameters (some declare none).
    assert all(dataclasses.is_dataclass(kind.params) for kind in all_kinds().values())


def test_form_strings_are_converted_and_absent_parameters_stay_absent():
    kind = get_kind("train_rewards")
    assert kind.params_clean({"epochs": "3", "aspects": "shape,color"}) == {
        "epochs": 3,
        "aspects": ["shape", "color"],
    }
    assert kind.params_parse({"aspects": ["color"]}).aspects == ("color",)
    flags = get_kind("generate_ads")
    assert flags.params_clean({"recurrent": "1", "full": False}) == {
        "recurrent": True,
        "full": False,
    }
    assert get_kind("generator_prune").params_clean({"version": None}) == {}


def test_a_declaration_the_forms_cannot_render_fails_when_the_kind_registers():
    @dataclasses.dataclass(frozen=True)
    class Undeclared:
        steps: int = 3

    @dataclasses.dataclass(frozen=True)
    class Unsupported:
        ratio: complex = param(1j)

    @dataclasses.dataclass(frozen=True)
    class OutOfRange:
        steps: int = param(0, low=1, high=5)

    for params in (Undeclared, Unsupported, OutOfRange):
        with pytest.raises(TypeError):
            register("never_registered", queue="cpu", title="-", params=params)
    assert "never_registered" not in all_kinds()


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("seed_world", {"images": 0}, "images must be between 1 and 20000"),
        ("seed_world", {"images": "many"}, "images must be a whole number"),
        ("seed_world", {"images": 2.5}, "images must be a whole number"),
        ("seed_world", {"images": True}, "images must be a whole number"),
        ("seed_world", {"pictures": 5}, "unknown parameters for seed_world: pictures"),
        ("generator_prune", {"eps": 1.5}, "eps must be between 0 and 1"),
        ("generator_prune", {"eps": "wide"}, "eps must be a number"),
        ("export", {"format": "xml"}, "format must be one of jsonl, hf"),
        ("train_rewards", {"aspects": ["taste"]}, "aspects must be a list drawn from"),
        ("score_images", {"rescore": "perhaps"}, "rescore must be true or false"),
        ("calibrate_gate", {"target": 0.9}, "unknown parameters for calibrate_gate"),
    ],
)
def test_the_api_refuses_bad_parameters_naming_the_field_and_stores_nothing(
    project, manager, kind, params, message
):  # type: ignore[no-untyped-def]
    url = f"/api/projects/{project.pk}/jobs/"
    response = api_client_for(manager).post(url, {"kind": kind, "params": params}, format="json")
    assert response.status_code == 400
    assert message in str(response.json()["field_errors"]["params"])
    assert not Job.objects.exists()


def test_the_api_stores_the_checked_parameters(project, manager):
    url = f"/api/projects/{project.pk}/jobs/"
    body = {"kind": "simulate_labels", "params": {"reviewers": "3", "seed": 1}}
    response = api_client_for(manager).post(url, body, format="json")
    assert response.status_code == 201, response.content
    assert Job.objects.get().params == {"reviewers": 3, "seed": 1}


@pytest.mark.parametrize("raw", ["true", "[1, 2]", "{not json"])
def test_a_form_body_whose_params_are_not_a_json_object_is_refused(project, manager, raw):  # type: ignore[no-untyped-def]
    url = f"/api/projects/{project.pk}/jobs/"
    body = {"kind": "seed_world", "params": raw}
    response = api_client_for(manager).post(url, body, format="multipart")
    assert response.status_code == 400, response.content
    assert "params" in response.json()["field_errors"]
    assert not Job.objects.exists()


def test_a_form_body_carries_params_as_a_json_object(project, manager):  # type: ignore[no-untyped-def]
    url = f"/api/projects/{project.pk}/jobs/"
    body = {"kind": "seed_world", "params": '{"images": 3}'}
    response = api_client_for(manager).post(url, body, format="multipart")
    assert response.status_code == 201, response.content
    assert Job.objects.get().params == {"images": 3}


def test_the_jobs_page_offers_every_kind_with_its_fields_defaults_and_ranges(project, manager):
    page = login(manager).get(reverse("workers:project_jobs", args=[project.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    for name, kind in offered_kinds().items():
        assert f'name="kind" value="{name}"' in html
        assert escape(kind.title) in html
    seed_form = html[html.index('value="seed_world"') :].split("</form>")[0]
    images = re.search(r'<input name="images"[^>]*>', seed_form)
    assert images is not None
    assert 'min="1"' in images[0] and 'max="20000"' in images[0] and 'value="200"' in images[0]
    assert "ad images to compose" in html  # the help text
    prune_form = html[html.index('value="generator_prune"') :].split("</form>")[0]
    eps = re.search(r'<input name="eps"[^>]*>', prune_form)
    assert eps is not None and 'step="any"' in eps[0] and 'value="0.1"' in eps[0]
    assert '<option value="jsonl" selected>' in html
    assert re.search(r'<input name="rescore" type="checkbox"', html)
    assert re.search(r'<input name="aspects" type="checkbox" value="shape"', html)


def test_the_jobs_page_starts_a_job_with_the_fields_filled_in(project, manager):
    url = reverse("workers:project_jobs", args=[project.pk])
    form = {"kind": "simulate_labels", "reviewers": "3", "labels": "", "seed": "2"}
    response = login(manager).post(url, form)
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.kind == "simulate_labels" and job.params == {"reviewers": 3, "seed": 2}
    bad = login(manager).post(url, {"kind": "simulate_labels", "reviewers": "0"})
    assert bad.status_code == 400 and "reviewers must be between 1 and 50" in bad.content.decode()
    unknown = login(manager).post(url, {"kind": "mine_bitcoin"})
    assert unknown.status_code == 400 and "unknown job kind" in unknown.content.decode()
    assert Job.objects.count() == 1


def test_a_runner_receives_its_kinds_dataclass(project, manager, monkeypatch):
    got: list[Any] = []

    def runner(job, reporter, params):  # type: ignore[no-untyped-def]
        got.append(params)
        return {"images": params.images}

    kind = dataclasses.replace(get_kind("seed_world"), runner=runner)
    monkeypatch.setitem(registry._KINDS, "seed_world", kind)
    job = services.job_start(
        project=project, kind="seed_world", params={"images": "12"}, user=manager
    )
    services.job_run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert got == [SeedWorldParams(images=12, seed=7)]


def test_a_job_whose_stored_parameters_no_longer_fit_fails_saying_why(project, monkeypatch):
    called: list[Any] = []
    kind = dataclasses.replace(get_kind("seed_world"), runner=lambda *args: called.append(args))
    monkeypatch.setitem(registry._KINDS, "seed_world", kind)
    job = Job.objects.create(kind="seed_world", project=project, params={"images": "many"})
    services.job_run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and not called
    assert "stored parameters" in job.error and "images must be a whole number" in job.error


def test_job_start_refuses_a_role_that_cannot_run_jobs_and_unknown_kinds(
    project, annotator, manager
):  # type: ignore[no-untyped-def]
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.job_start(project=project, kind="export", params={}, user=annotator)
    with pytest.raises(ParamError, match="unknown job kind"):
        services.job_start(project=project, kind="nope", params={}, user=manager)
    assert not Job.objects.exists()


def test_every_start_form_and_the_api_go_through_job_start(project, manager, monkeypatch):
    started: list[str] = []
    real = services.job_start

    def spy(**kwargs: Any) -> Job:
        started.append(kwargs["kind"])
        return real(**kwargs)

    monkeypatch.setattr(services, "job_start", spy)
    product = Product.objects.create(sku="sku-1", title="Kettle", category="home", cutout="x.png")
    client = login(manager)
    posts = [
        (reverse("workers:project_jobs", args=[project.pk]), {"kind": "export"}),
        (reverse("qe:start", args=[project.pk]), {"kind": "qe_catalog"}),
        (reverse("agents:job_start", args=[project.pk]), {"kind": "agent_score"}),
        (reverse("imagegen:generators", args=[project.pk]), {"action": "train", "steps": "5"}),
        (reverse("imagegen:product", args=[project.pk, product.pk]), {"count": "2"}),
    ]
    for url, form in posts:
        assert client.post(url, form).status_code == 302, url
    api = api_client_for(manager)
    body = {"kind": "worker_check", "params": {"seconds": 1}}
    assert api.post(f"/api/projects/{project.pk}/jobs/", body, format="json").status_code == 201
    kinds = ["export", "qe_catalog", "agent_score", "generator_train", "generate_ads"]
    assert started == [*kinds, "worker_check"]
    assert sorted(Job.objects.values_list("kind", flat=True)) == sorted(started)


def test_pages_and_the_api_do_not_reap_stale_jobs_beat_does(project, manager, settings):
    old = timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S + 60)
    job = Job.objects.create(
        kind="export", project=project, status=Job.Status.RUNNING, heartbeat_at=old
    )
    client, api = login(manager), api_client_for(manager)
    assert client.get(reverse("workers:job", args=[job.pk])).status_code == 200
    assert client.get(reverse("workers:progress", args=[job.pk])).status_code == 200
    assert client.get(reverse("workers:project_jobs", args=[project.pk])).status_code == 200
    assert api.get(f"/api/jobs/{job.pk}/").status_code == 200
    assert api.get(f"/api/projects/{project.pk}/jobs/").status_code == 200
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING
    assert tasks.reap_stale_jobs() == 1  # what beat runs every minute
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "no heartbeat" in job.error


def test_the_api_schema_documents_each_kinds_parameters():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    params = schema["components"]["schemas"]["JobInRequest"]["properties"]["params"]
    assert params["type"] == "object"
    images = params["x-params-by-kind"]["seed_world"]["properties"]["images"]
    assert (images["minimum"], images["maximum"], images["default"]) == (1, 20_000, 200)
    assert "seed_world: images (integer 1–20000, default 200)" in params["description"]
