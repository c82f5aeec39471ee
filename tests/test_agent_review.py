"""The trace review page: steps shown as text, the keyboard form, strict validation of a
verdict per step, notes and outcome, and the queue machinery (undo, gold, agreement)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from labeling import services, stats
from labeling.models import Annotation, Item
from workers.agents.ml.scripted import run_scripted
from workers.agents.ml.trace import to_chat
from workers.agents.traces.services import traces_import
from workers.agents.world import agent_world, task_split

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script> {{ request.user.password }} {% csrf_token %}"


def chat(i: int = 0, flaw: str | None = "timeout") -> dict:
    world, (train, _) = agent_world(), task_split()
    return to_chat(run_scripted(world, train[i], flaw=flaw, seed=i))


def hostile_chat() -> dict:
    c = chat()
    c["messages"][1]["content"] = f"find socks {HOSTILE}"
    c["messages"][2]["content"] = f"thinking <img src=x onerror=alert(2)> {HOSTILE}"
    c["messages"][3]["content"] = json.dumps({"text": "<b>bold</b> {{ 7|add:1 }}"})
    c["messages"][-1]["content"] = f"Answer: {HOSTILE}"
    return c


def login(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def steps_of(item: Item) -> int:
    return len(item.payload["steps"])


def form_for(item: Item, verdicts: list[str], outcome: str = "failure", **extra: str) -> dict:
    data = {"n_steps": str(steps_of(item)), "outcome": outcome, **extra}
    data.update({f"step_{i}": v for i, v in enumerate(verdicts)})
    return data


def test_trace_text_with_html_script_and_template_syntax_shows_as_text(project, annotator):
    (item,) = traces_import(project=project, text=json.dumps(hostile_chat()))
    page = login(annotator).get(reverse("labeling:label", args=[project.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page
    # Template syntax is not evaluated: it is shown as typed.
    assert "{{ request.user.password }}" in page and "{% csrf_token %}" in page
    assert "{{ 7|add:1 }}" in page
    assert f'data-item="{item.pk}"' in page


def test_the_page_shows_steps_keys_and_the_labeled_automatic_hint(project, annotator):
    (item,) = traces_import(project=project, text=json.dumps(chat(flaw="timeout")))
    page = login(annotator).get(reverse("labeling:label", args=[project.pk])).content.decode()
    assert "js/trace.js" in page
    assert page.count('class="step') >= steps_of(item)
    assert "Automatic check" in page and "tool error: timeout" in page
    assert "<kbd>j</kbd>" in page and "reasoning error" in page
    assert "Final answer" in page


def test_submitting_the_form_stores_one_verdict_per_step(project, annotator):
    (item,) = traces_import(project=project, text=json.dumps(chat()))
    client = login(annotator)
    client.get(reverse("labeling:label", args=[project.pk]))
    assignment = item.assignments.get()
    verdicts = ["ok"] * (steps_of(item) - 1) + ["execution"]
    note = {f"note_{steps_of(item) - 1}": "timed out, <not retried>"}
    resp = client.post(
        reverse("labeling:submit", args=[project.pk, assignment.pk]),
        form_for(item, verdicts, **note),
    )
    assert resp.status_code == 302
    annotation = Annotation.objects.get(item=item)
    assert annotation.values == {
        "steps": verdicts,
        "notes": {str(steps_of(item) - 1): "timed out, <not retried>"},
        "outcome": "failure",
    }


def test_a_missing_step_verdict_is_refused_with_a_message(project, annotator):
    (item,) = traces_import(project=project, text=json.dumps(chat()))
    client = login(annotator)
    client.get(reverse("labeling:label", args=[project.pk]))
    assignment = item.assignments.get()
    verdicts = ["ok"] * steps_of(item)
    verdicts[1] = ""
    resp = client.post(
        reverse("labeling:submit", args=[project.pk, assignment.pk]), form_for(item, verdicts)
    )
    assert resp.status_code == 400
    page = resp.content.decode()
    assert "step 2 has no verdict yet" in page
    # What was chosen stays chosen.
    assert page.count("checked") == steps_of(item) - 1 + 1
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    "values, message",
    [
        ({"steps": ["ok"], "outcome": "success"}, "one verdict per step"),
        ({"steps": "ok", "outcome": "success"}, "one verdict per step"),
        ({"steps": ["maybe"], "outcome": "success"}, "step 1: choose ok, reasoning, execution"),
        ({"steps": None, "outcome": "won"}, "one verdict per step"),
        ({"steps": [], "outcome": "won"}, "'outcome' must be success or failure"),
        ({"steps": [], "outcome": "success", "score": 3}, "unknown fields: score"),
        ({"steps": [], "outcome": "success", "notes": {"9": "x"}}, "not a step of this trace"),
        ({"steps": [], "outcome": "success", "notes": {"0": "x" * 501}}, "longer than 500"),
        ({"steps": [], "outcome": "success", "notes": ["x"]}, "notes must be an object"),
    ],
)
def test_the_api_validates_submissions_strictly(api, project, annotator, values, message):
    (item,) = traces_import(project=project, text=json.dumps(chat()))
    n = steps_of(item)
    if isinstance(values.get("steps"), list) and values["steps"] == []:
        values = {**values, "steps": ["ok"] * n}
    if values.get("steps") == ["maybe"]:
        values = {**values, "steps": ["maybe"] + ["ok"] * (n - 1)}
    assert n > 1  # so a single verdict is the wrong count
    client = api(annotator)
    task = client.get(f"/api/projects/{project.pk}/next/").json()
    assert "truth" not in task["item"] and "recipe" not in task["item"]
    resp = client.post(
        f"/api/tasks/{task['assignment_id']}/submit/", {"values": values}, format="json"
    )
    assert resp.status_code == 400
    assert message in resp.json()["detail"]
    assert not Annotation.objects.exists()


def test_undo_brings_the_trace_back_with_its_verdicts(project, annotator):
    (item,) = traces_import(project=project, text=json.dumps(chat()))
    client = login(annotator)
    client.get(reverse("labeling:label", args=[project.pk]))
    assignment = item.assignments.get()
    verdicts = ["reasoning"] + ["ok"] * (steps_of(item) - 1)
    client.post(
        reverse("labeling:submit", args=[project.pk, assignment.pk]),
        form_for(item, verdicts, note_0="misread the colour"),
    )
    resp = client.post(reverse("labeling:undo", args=[project.pk]), HTTP_HX_REQUEST="true")
    page = resp.content.decode()
    assert 'name="step_0" value="reasoning" data-key="2"\n          checked' in page
    assert "misread the colour</textarea>" in page


def test_gold_traces_check_reviewers_step_by_step(api, project, annotator):
    c = chat(flaw="timeout")
    c["metadata"]["gold"] = True
    (item,) = traces_import(project=project, text=json.dumps(c))
    assert item.is_gold and item.gold_answer["steps"] == item.truth["steps"]
    client = api(annotator)
    project.gold_share = 1.0
    project.save()
    task = client.get(f"/api/projects/{project.pk}/next/").json()
    values = {"steps": item.truth["steps"], "outcome": item.truth["outcome"]}
    resp = client.post(
        f"/api/tasks/{task['assignment_id']}/submit/", {"values": values}, format="json"
    )
    assert resp.status_code == 201, resp.content
    assert Annotation.objects.get().gold_correct is True


def test_agreement_has_a_unit_per_step_and_the_outcome(project, annotator, annotator2):
    project.overlap = 2
    project.save()
    items = traces_import(project=project, text="\n".join(json.dumps(chat(i)) for i in range(4)))
    for user, flip in ((annotator, False), (annotator2, True)):
        for item in items:
            steps = list(item.truth["steps"])
            if flip and item == items[0]:
                steps[0] = "reasoning" if steps[0] != "reasoning" else "ok"
            services.annotation_record(
                item=item,
                user=user,
                values={"steps": steps, "outcome": item.truth["outcome"]},
                source="test",
            )
    groups = {a.field: a for a in stats.agreement(project)}
    assert set(groups) == {"step", "outcome"}
    assert groups["step"].items == 4 and groups["outcome"].items == 4
    assert groups["step"].alpha is not None and groups["step"].alpha < 1.0


def test_the_trace_page_shows_reviewers_notes_as_text(project, annotator, manager):
    (item,) = traces_import(project=project, text=json.dumps(hostile_chat()))
    steps = ["ok"] * steps_of(item)
    services.annotation_record(
        item=item,
        user=annotator,
        values={"steps": steps, "outcome": "failure", "notes": {"0": "<i>hm</i> {{ x }}"}},
        source="test",
    )
    url = reverse("agents:trace", args=[project.pk, item.pk])
    html = login(manager).get(url).content.decode()
    assert "anna: ok — “&lt;i&gt;hm&lt;/i&gt; {{ x }}”" in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "Not scored yet." in html
    assert login(annotator).get(url).status_code == 403
