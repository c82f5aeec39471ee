"""Bulk import (JSON-lines manifest, Label Studio tasks) and export (JSON lines, a file
`datasets` reads, Label Studio tasks), including a full round trip."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jdreview.models import Product
from labeling import services
from labeling.models import Annotation, Item
from tests.factories import BAD_SHAPE, GOOD, ProjectFactory, add_member, png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.backend]


def manifest_upload(api, user, project, lines, files):  # type: ignore[no-untyped-def]
    manifest = "\n".join(json.dumps(line) if not isinstance(line, str) else line for line in lines)
    return api(user).post(
        reverse("api-import", args=[project.pk]),
        {
            "manifest": SimpleUploadedFile("m.jsonl", manifest.encode()),
            "files": [SimpleUploadedFile(n, d) for n, d in files.items()],
        },
        format="multipart",
    )


def test_manifest_import_stores_every_item(api, manager, project):
    Product.objects.create(sku="MUG-1", title="Red mug", category="kitchen")
    files = {"a.png": png_bytes(), "b.png": png_bytes()}
    lines = [
        {
            "image": "a.png",
            "external_id": "ad-a",
            "product_sku": "MUG-1",
            "payload": {"title": "Red mug on a table"},
        },
        {"image": "b.png", "external_id": "ad-b", "gold_answer": GOOD},
        {"image_base64": base64.b64encode(png_bytes()).decode(), "external_id": "ad-c"},
    ]
    response = manifest_upload(api, manager, project, lines, files)
    assert response.status_code == 201, response.data
    assert response.data["created"] == 3
    items = {i.external_id: i for i in Item.objects.filter(project=project)}
    assert items["ad-a"].product.sku == "MUG-1"
    assert items["ad-b"].is_gold and items["ad-b"].gold_answer == GOOD
    assert items["ad-c"].image.read()[:4] == b"\x89PNG"


def test_manifest_with_one_bad_line_stores_nothing_and_names_the_lines(api, manager, project):
    files = {"a.png": png_bytes(), "bad.png": b"not an image"}
    lines = [
        {"image": "a.png", "external_id": "ok"},
        "{not json",
        {"image": "bad.png"},
        {"image": "missing.png"},
        {"external_id": "no image"},
    ]
    response = manifest_upload(api, manager, project, lines, files)
    assert response.status_code == 400
    errors = " ".join(response.data["errors"])
    for expected in (
        "line 2: not valid JSON",
        "line 3 (bad.png): not a readable image",
        "line 4: image 'missing.png' was not uploaded",
        "line 5: needs 'image'",
    ):
        assert expected in errors
    assert Item.objects.count() == 0


def test_duplicate_external_ids_are_refused(api, manager, project):
    files = {"a.png": png_bytes()}
    assert (
        manifest_upload(
            api, manager, project, [{"image": "a.png", "external_id": "x"}], files
        ).status_code
        == 201
    )
    again = manifest_upload(api, manager, project, [{"image": "a.png", "external_id": "x"}], files)
    assert again.status_code == 400 and "already in this project" in again.data["detail"]
    assert Item.objects.count() == 1


def _label_two(project, annotator, ops):  # type: ignore[no-untyped-def]
    for user, values in ((annotator, GOOD), (ops, BAD_SHAPE)):
        task = services.task_next(project=project, user=user)
        services.annotation_submit(
            assignment_id=task.pk,
            user=user,
            values=values,
            marks=[{"type": "point", "x": 3, "y": 4, "aspect": "shape"}],
        )


def test_jsonl_export_lists_live_annotations(api, manager, annotator, ops, project, items):
    _label_two(project, annotator, ops)
    services.annotation_undo(project=project, user=ops)
    response = api(manager).get(reverse("api-export", args=[project.pk]), {"format": "jsonl"})
    rows = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [(r["annotator"], r["shape"], r["usable"]) for r in rows] == [("anna", "ok", "yes")]
    assert rows[0]["marks"] == [{"type": "point", "x": 3.0, "y": 4.0, "aspect": "shape"}]


def test_hf_export_loads_with_datasets(api, manager, annotator, ops, project, items, tmp_path):
    from datasets import load_dataset

    _label_two(project, annotator, ops)
    response = api(manager).get(reverse("api-export", args=[project.pk]), {"format": "hf"})
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"".join(response.streaming_content))
    dataset = load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert dataset.num_rows == 2
    assert sorted(dataset["annotator"]) == ["anna", "otto"]
    assert sorted(dataset["label_usable"]) == [0, 1]
    assert json.loads(dataset["marks"][0])[0]["type"] == "point"


def test_export_refuses_unknown_format(api, manager, project):
    response = api(manager).get(reverse("api-export", args=[project.pk]), {"format": "xml"})
    assert response.status_code == 400


def test_label_studio_round_trip(api, admin, annotator, ops, project, items, settings):
    _label_two(project, annotator, ops)
    exported = (
        api(admin).get(reverse("api-export", args=[project.pk]), {"format": "labelstudio"}).data
    )
    labeled = [t for t in exported if t["annotations"]]
    assert {r["from_name"] for r in labeled[0]["annotations"][0]["result"]} == {
        "shape",
        "placement",
        "color",
        "usable",
    }
    # Re-import into a new project, with the image files attached by name.
    target = ProjectFactory()
    add_member(admin, target)
    files = [
        SimpleUploadedFile(
            t["data"]["image"].rsplit("/", 1)[-1], Item.objects.get(pk=t["id"]).image.read()
        )
        for t in exported
    ]
    response = api(admin).post(
        reverse("api-import-labelstudio", args=[target.pk]),
        {"tasks": SimpleUploadedFile("ls.json", json.dumps(exported).encode()), "files": files},
        format="multipart",
    )
    assert response.status_code == 201, response.data
    assert response.data["created"] == len(items)
    assert response.data["annotations"] == 2
    before = sorted(
        json.dumps(a.values, sort_keys=True) for a in Annotation.objects.filter(project=project)
    )
    after = sorted(
        json.dumps(a.values, sort_keys=True) for a in Annotation.objects.filter(project=target)
    )
    assert before == after
    sha_before = {
        hashlib.sha256(i.image.read()).hexdigest() for i in Item.objects.filter(project=project)
    }
    sha_after = set(Item.objects.filter(project=target).values_list("image_sha256", flat=True))
    assert sha_before == sha_after


def test_label_studio_import_with_data_uri_and_bad_choice(api, admin, project):
    add_member(admin, project)
    uri = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    bad = [
        {
            "data": {"image": uri},
            "annotations": [
                {
                    "result": [
                        {
                            "from_name": "shape",
                            "to_name": "image",
                            "type": "choices",
                            "value": {"choices": ["wonky"]},
                        }
                    ]
                }
            ],
        }
    ]
    response = api(admin).post(
        reverse("api-import-labelstudio", args=[project.pk]), bad, format="json"
    )
    assert response.status_code == 400 and "task 0, annotation 0" in response.data["detail"]
    assert Item.objects.count() == 0
    good = [{"data": {"image": uri}, "annotations": []}]
    response = api(admin).post(
        reverse("api-import-labelstudio", args=[project.pk]), good, format="json"
    )
    assert response.status_code == 201 and Item.objects.count() == 1
