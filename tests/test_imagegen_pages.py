"""Generator pages: versions and job forms, the pruning analysis rerun for another ε, the
RL reward-hacking flag, side-by-side comparison, product pages, the dashboard panel."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from jdreview.models import Product
from jdreview.roles import Role
from labeling.models import Item
from tests.factories import ItemFactory, UserFactory
from tests.imagegen_helpers import saved_generator, world_catalog
from workers.models import Job, ModelVersion
from workers.versions import artifact_dir, model_version_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_enqueue", "one_torch_thread")]

INFLUENCE = [0.40, 0.12, 0.11, 0.12, 0.11, 0.30, 0.31, 0.30, 0.45]


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def _fake_version(project, *, name: str, metrics: dict, parent=None) -> ModelVersion:  # type: ignore[no-untyped-def]
    """A registered version with given metrics (its files are not a model: pages only)."""
    with artifact_dir() as tmp:
        (tmp / "generator_config.json").write_text("{}")
        return model_version_create(
            project=project,
            family="generator",
            name=name,
            saved_dir=tmp,
            config={"num_layers": 6, "parameters": 1000},
            metrics={"heldout_usable": 0.5, "heldout_n": 24, "heldout_reward": None, **metrics},
            parent=parent,
        )


def _pruned(project) -> ModelVersion:  # type: ignore[no-untyped-def]
    from workers.imagegen.ml.curve import analyze

    plan = analyze(INFLUENCE, eps=0.05)
    return _fake_version(
        project,
        name="pruned 9→6",
        metrics={
            "heldout_usable": 0.5,
            "pruning": {
                **plan.to_dict(),
                "blocks_before": 9,
                "blocks_after": 9 - len(plan.remove),
                "params_before": 9000,
                "params_after": 6000,
                "train_steps_per_s_before": 2.0,
                "train_steps_per_s_after": 3.0,
                "throughput_ratio": 1.5,
                "heldout_loss_before": 0.1,
                "heldout_loss_after": 0.102,
                "quality_ratio": 1.02,
                "usable_before": 0.5,
                "recovery_steps": 60,
            },
        },
    )


def test_generators_page_lists_versions_for_managers_only(project, manager, annotator, groups):
    version = _pruned(project)
    page = _client(manager).get(reverse("imagegen:generators", args=[project.pk]))
    assert page.status_code == 200
    assert b"pruned 9" in page.content and b"1.50" in page.content
    assert (
        _client(annotator).get(reverse("imagegen:generators", args=[project.pk])).status_code == 403
    )
    stranger = UserFactory(username="mike")
    stranger.groups.add(groups[Role.MANAGER])
    url = reverse("imagegen:version", args=[project.pk, version.pk])
    assert _client(stranger).get(url).status_code == 404


def test_starting_jobs_from_the_generators_page(project, other_project, manager):
    url = reverse("imagegen:generators", args=[project.pk])
    c = _client(manager)
    response = c.post(url, {"action": "train", "steps": "5", "layers": "3", "images": ""})
    job = Job.objects.get(kind="generator_train")
    assert response.status_code == 302 and response.url == reverse("workers:job", args=[job.pk])
    assert job.params == {"steps": 5, "layers": 3} and job.queue == "gpu"
    bad = c.post(url, {"action": "train", "steps": "0"})
    assert bad.status_code == 400 and b"steps must be between" in bad.content
    foreign = _fake_version(other_project, name="tiny", metrics={})
    bad = c.post(url, {"action": "prune", "version": foreign.pk, "eps": "0.1"})
    assert bad.status_code == 400 and b"does not belong to this project" in bad.content
    mine = _fake_version(project, name="tiny", metrics={})
    bad = c.post(url, {"action": "prune", "version": mine.pk, "eps": "nan"})
    assert bad.status_code == 400 and b"eps must be between" in bad.content
    assert c.post(url, {"action": "prune", "version": mine.pk, "eps": "0.2"}).status_code == 302
    assert Job.objects.get(kind="generator_prune").params == {"version": mine.pk, "eps": 0.2}
    assert Job.objects.count() == 2


def test_pruning_page_reruns_rdp_for_another_eps_without_training(project, manager):
    version = _pruned(project)
    url = reverse("imagegen:version", args=[project.pk, version.pk])
    c = _client(manager)
    page = c.get(url)
    assert page.status_code == 200
    assert b"<svg" in page.content and b"Block Influence" in page.content
    stored = version.metrics["pruning"]["remove"]
    assert f"<b>{', '.join(map(str, stored))}</b>".encode() in page.content
    # A huge tolerance: RDP keeps only the two ends, so every inner block would go.
    wide = c.get(url, {"eps": "0.99"})
    assert wide.status_code == 200 and b"<b>1, 2, 3, 4, 5, 6, 7</b>" in wide.content
    assert b"Prune v" in wide.content  # offer to prune again at this eps
    partial = c.get(url, {"eps": "0.99"}, HTTP_HX_REQUEST="true")
    assert b'id="pruning"' in partial.content and b"<html" not in partial.content
    bad = c.get(url, {"eps": "-1"})
    assert bad.status_code == 400 and b"eps must be between" in bad.content
    assert not Job.objects.exists()


def test_a_flagged_rl_run_says_so_on_its_page(project, manager):
    base = _fake_version(project, name="tiny", metrics={"heldout_usable": 0.5})
    rl = {
        "reward_before": 0.4,
        "reward_after": 0.7,
        "usable_before": 0.5,
        "usable_after": 0.45,
        "reward_hacking": True,
        "train_rewards": [0.4, 0.5, 0.7],
        "consistency": [0.0, 0.01, 0.02],
        "steps": 3,
        "seconds": 9.0,
        "batch": 4,
        "grad_last_k": 2,
        "consistency_weight": 1.0,
    }
    flagged = _fake_version(
        project, name="rl", metrics={"rl": rl, "reward_hacking": True}, parent=base
    )
    page = _client(manager).get(reverse("imagegen:version", args=[project.pk, flagged.pk]))
    assert b"Flagged: the reward rose but the oracle" in page.content
    listing = _client(manager).get(reverse("imagegen:generators", args=[project.pk]))
    assert b"flagged: reward hacking" in listing.content


def test_compare_shows_two_versions_on_the_same_products_and_seeds(project, other_project, manager):
    world_catalog()
    a = saved_generator(project, layers=2, seed=0)
    b = saved_generator(project, layers=2, seed=1)
    c = _client(manager)
    page = c.get(reverse("imagegen:compare", args=[project.pk]), {"a": a.pk, "b": b.pk})
    assert page.status_code == 200
    assert page.content.count(b'class="ig-pair"') == 1 + a.metrics["heldout_n"]
    image = c.get(reverse("imagegen:sample", args=[project.pk, b.pk, 3]))
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert c.get(reverse("imagegen:sample", args=[project.pk, b.pk, 999])).status_code == 404
    foreign = _fake_version(other_project, name="x", metrics={})
    url = reverse("imagegen:compare", args=[project.pk])
    assert c.get(url, {"a": a.pk, "b": foreign.pk}).status_code == 404


def test_product_page_shows_generated_ads_and_starts_generation(project, manager, annotator):
    world_catalog()
    saved_generator(project, layers=2)
    product = Product.objects.order_by("sku").first()
    ItemFactory(
        project=project,
        product=product,
        source=Item.Source.GENERATED,
        recipe={"generator": {"version": 1}, "seed": 3},
    )
    url = reverse("imagegen:product", args=[project.pk, product.pk])
    c = _client(manager)
    page = c.get(url)
    assert page.status_code == 200 and b"1 generated" in page.content
    assert b"regenerate until the gate launches" in page.content
    response = c.post(url, {"count": "3", "recurrent": "1", "version": ""})
    job = Job.objects.get(kind="generate_ads")
    assert response.status_code == 302
    assert job.params == {"count": 3, "recurrent": True, "product": product.pk}
    bad = c.post(url, {"count": "500"})
    assert bad.status_code == 400 and b"count must be between" in bad.content
    assert _client(annotator).get(url).status_code == 403
    assert _client(annotator).post(url, {"count": "1"}).status_code == 403
    assert Job.objects.count() == 1
    missing = reverse("imagegen:product", args=[project.pk, 10**8])
    assert c.get(missing).status_code == 404
    listing = c.get(reverse("imagegen:products", args=[project.pk]))
    assert listing.status_code == 200
    assert f'href="{url}"'.encode() in listing.content


def test_the_jobs_api_checks_generator_parameters(project, manager, api):
    client = api(manager)
    url = f"/api/projects/{project.pk}/jobs/"
    bad = client.post(url, {"kind": "generator_prune", "params": {"eps": "wide"}}, format="json")
    assert bad.status_code == 400 and "eps must be a number" in str(bad.data)
    bad = client.post(url, {"kind": "generate_ads", "params": {"count": 99}}, format="json")
    assert bad.status_code == 400
    ok = client.post(
        url, {"kind": "generator_rl", "params": {"steps": 3, "batch": 2}}, format="json"
    )
    assert ok.status_code == 201 and ok.data["queue"] == "gpu"


def test_product_text_is_escaped(project, manager):
    from django.core.files.base import ContentFile

    from tests.factories import png_bytes

    product = Product(sku="X-1", title="<script>alert(1)</script>", category="toys")
    product.cutout.save("x.png", ContentFile(png_bytes()), save=True)
    page = _client(manager).get(reverse("imagegen:product", args=[project.pk, product.pk]))
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content


def test_dashboard_shows_the_generator_panel(project, manager):
    _pruned(project)
    page = _client(manager).get(reverse("dashboard"))
    assert page.status_code == 200
    assert b"Ad-image generator" in page.content and b"1.50" in page.content
