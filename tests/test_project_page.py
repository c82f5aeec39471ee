"""The project page links the pages of the loops the project takes part in."""

from __future__ import annotations

import pytest

from tests.factories import ItemFactory
from workers.qe.apps import KIND as QE_KIND


@pytest.mark.parametrize(
    ("kind", "shown", "hidden"),
    [
        ("ad_image", ["Launch gate", "Image generators"], ["Try an expansion", "Agent traces"]),
        ("query_expansion", ["Try an expansion"], ["Launch gate", "Image generators"]),
        ("agent_trace", ["Agent traces, scores and policies"], ["Launch gate", "Try an expansion"]),
    ],
)
def test_a_manager_sees_the_pages_of_the_projects_loop(
    client, manager, project, kind, shown, hidden
):  # type: ignore[no-untyped-def]
    ItemFactory(project=project, kind=kind)
    client.force_login(manager)
    page = client.get(f"/p/{project.pk}/").content.decode()
    for text in shown:
        assert text in page
    for text in hidden:
        assert text not in page


def test_an_annotator_gets_no_model_pages(client, annotator, project):  # type: ignore[no-untyped-def]
    ItemFactory(project=project, kind=QE_KIND)
    client.force_login(annotator)
    page = client.get(f"/p/{project.pk}/").content.decode()
    assert "Start labeling" in page
    assert "Query-expansion models" not in page
