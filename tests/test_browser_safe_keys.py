"""One key must never record the wrong answer, and what stops a submit is said where the
person is looking: keyboard-only, in headless Chromium.

Space fills in only what is unanswered and refuses when an answer given says "not all
good"; undo says which earlier answer is being changed; an audit verdict can be taken
back; the message region stays in the viewport and the focus goes to what is missing.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from labeling.models import Annotation, Item
from rewards.models import Audit, Decision
from tests.browser import wait_until
from tests.factories import ItemFactory
from workers.agents.ml.scripted import run_scripted
from workers.agents.ml.trace import to_chat
from workers.agents.traces.services import traces_import
from workers.agents.world import agent_world, task_split
from workers.qe.apps import KIND as QE_KIND

SHOTS = {"phone": (390, 844), "laptop": (1280, 720)}


def log_in(page: Any, live_server: Any, user: Any, path: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={path}")
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    page.keyboard.type("pw-for-tests")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}{path}")
    page.wait_for_load_state("load")  # the page's script is in place before the first key


def press(page: Any, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def done(page: Any, n: int) -> None:
    wait_until(page, f"document.getElementById('done-count').textContent.trim() === '{n}'")


def checked(page: Any) -> dict[str, str]:
    return page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll("
        "'#label-form input[type=radio]:checked')).map((i) => [i.name, i.value]))"
    )


def fully_in_view(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    return bool(box) and (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and box["y"] + box["height"] <= height
    )


def overlaps(page: Any, a: str, b: str) -> bool:
    one, two = page.locator(a).bounding_box(), page.locator(b).bounding_box()
    if not one or not two:
        return False
    return not (
        one["x"] + one["width"] <= two["x"]
        or two["x"] + two["width"] <= one["x"]
        or one["y"] + one["height"] <= two["y"]
        or two["y"] + two["height"] <= one["y"]
    )


def screenshots(page: Any, name: str, again: Any, check: Any) -> None:
    """At phone and laptop size: ``again`` repeats the action (a refusal changes nothing),
    ``check`` asserts, and the page is saved for a look (PNGs under /tmp)."""
    for size, (width, height) in SHOTS.items():
        page.set_viewport_size({"width": width, "height": height})
        again()
        check()
        page.screenshot(path=f"/tmp/safe-keys-{name}-{size}.png")


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_space_after_defects_stores_nothing_and_says_why(
    live_server, browser_page, project, annotator
):
    ItemFactory.create_batch(3, project=project)
    page = browser_page
    log_in(page, live_server, annotator, f"/p/{project.pk}/label/")
    press(page, "a", "d", "f", "Space")
    page.wait_for_selector("#message:not(:empty)")
    message = page.text_content("#message")
    assert "Not submitted" in message and "Space means everything is ok" in message
    assert "Shape intact: defect" in message and "Usable overall: no" in message
    assert "Placement (w / s)" in message  # what is left to answer
    page.wait_for_timeout(300)  # nothing in flight either
    assert not Annotation.objects.exists()
    # The answers stay as given; the focus is on the question still open.
    assert checked(page) == {"shape": "defect", "color": "defect", "usable": "no"}
    assert page.evaluate("document.activeElement.name") == "placement"

    def message_in_view_clear_of_submit() -> None:
        assert fully_in_view(page, "#message")
        assert not overlaps(page, "#message", "#label-form button[type=submit]")

    screenshots(
        page, "ad-space-refused", lambda: press(page, "Space"), message_in_view_clear_of_submit
    )
    # Finishing with the keys stores exactly what was chosen.
    press(page, "s", "Enter")
    done(page, 1)
    assert Annotation.objects.get().values == {
        "shape": "defect",
        "placement": "defect",
        "color": "defect",
        "usable": "no",
    }
    assert page.text_content("#message").strip() == ""  # the next task starts clean


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_space_fills_only_the_unanswered_aspects(live_server, browser_page, project, annotator):
    ItemFactory.create_batch(3, project=project)
    page = browser_page
    log_in(page, live_server, annotator, f"/p/{project.pk}/label/")
    press(page, "q", "w", "Space")
    done(page, 1)
    assert Annotation.objects.get().values == {
        "shape": "ok",
        "placement": "ok",
        "color": "ok",
        "usable": "yes",
    }
    # A defect with "usable" is refused before it is sent, the answers left as they are.
    press(page, "q", "s", "e", "r", "Enter")
    page.wait_for_selector("#message:not(:empty)")
    assert "Placement: defect" in page.text_content("#message")
    assert "not usable" in page.text_content("#message")
    assert page.evaluate("document.activeElement.name") == "usable"
    press(page, "f", "Enter")
    done(page, 2)
    assert Annotation.objects.order_by("id").last().values["usable"] == "no"


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_undo_says_which_earlier_answer_is_being_changed(
    live_server, browser_page, project, annotator
):
    ItemFactory.create_batch(3, project=project)
    page = browser_page
    log_in(page, live_server, annotator, f"/p/{project.pk}/label/")
    first = page.get_attribute("#label-form", "data-item")
    press(page, "a", "w", "e", "f", "Enter")
    done(page, 1)
    press(page, "u")
    page.wait_for_selector("#editing")
    banner = page.text_content("#editing")
    submitted = timezone.localtime(Annotation.objects.get().created_at)
    assert f"Editing your earlier answer to item #{first}" in banner
    assert f"submitted {submitted:%H:%M}" in banner
    assert page.get_attribute("#label-form", "data-item") == first
    assert checked(page) == {"shape": "defect", "placement": "ok", "color": "ok", "usable": "no"}
    screenshots(page, "ad-editing", lambda: None, lambda: None)
    # Space does not overwrite the earlier defect either.
    press(page, "Space")
    page.wait_for_selector("#message:not(:empty)")
    press(page, "q", "r", "Enter")
    done(page, 1)
    assert page.locator("#editing").count() == 0
    live = Annotation.objects.get(undone=False)
    assert live.values == {"shape": "ok", "placement": "ok", "color": "ok", "usable": "yes"}
    assert Annotation.objects.filter(undone=True).count() == 1


def decided(project: Any, outcome: str, driver: str = "shape") -> Audit:
    item = ItemFactory(project=project)
    Decision.objects.create(
        item=item,
        project=project,
        scores={"shape": 0.4, "placement": 0.9, "color": 0.95},
        model_versions={},
        outcome=outcome,
        driver=driver,
        reason="test",
    )
    return Audit.objects.create(item=item, project=project, outcome=outcome, sample_rate=1.0)


def shown_audit(page: Any) -> int:
    return int(page.get_attribute("#audit-form", "data-audit"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_an_audit_verdict_can_be_undone_with_u(live_server, browser_page, project, ops):
    first, second = decided(project, "launch"), decided(project, "reject")
    page = browser_page
    log_in(page, live_server, ops, f"/p/{project.pk}/audit/")
    assert shown_audit(page) == first.pk
    assert page.text_content("#decision").strip() == "Launched"
    press(page, "y")
    wait_until(page, f"document.querySelector('#audit-form').dataset.audit === '{second.pk}'")
    assert Annotation.objects.get(source="audit").undone is False
    press(page, "u")
    wait_until(page, f"document.querySelector('#audit-form').dataset.audit === '{first.pk}'")
    assert "taken back" in page.text_content("#audit .undone-note")
    first.refresh_from_db()
    assert first.status == Audit.Status.PENDING and first.held_by == ops
    assert Annotation.objects.get(source="audit").undone is True
    # Decided again, with n: the gate said launch, the reviewer says the shape is off.
    press(page, "1", "n")
    wait_until(page, f"document.querySelector('#audit-form').dataset.audit === '{second.pk}'")
    first.refresh_from_db()
    assert first.status == Audit.Status.OVERRIDDEN and first.usable is False
    live = Annotation.objects.get(source="audit", undone=False)
    assert live.values == {"shape": "defect", "placement": "ok", "color": "ok", "usable": "no"}
    # Nothing further back of this person's: a second u after undoing says so.
    press(page, "u")
    wait_until(page, f"document.querySelector('#audit-form').dataset.audit === '{first.pk}'")
    page.wait_for_selector("#audit .undone-note")
    press(page, "u")
    page.wait_for_selector("#message:not(:empty)")
    assert "Nothing to undo" in page.text_content("#message")


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_the_n_key_audit_shows_the_decision_and_stores_the_driver(
    live_server, browser_page, project, ops
):
    audit = decided(project, "review", driver="color")
    page = browser_page
    log_in(page, live_server, ops, f"/p/{project.pk}/audit/")
    assert page.text_content("#decision").strip() == "Held for review"
    assert fully_in_view(page, "#decision")
    # Enter with no verdict: said in the message region, focus on the verdict.
    press(page, "Enter")
    page.wait_for_selector("#message:not(:empty)")
    assert "usable (y) or not usable (n)" in page.text_content("#message")
    assert page.evaluate("document.activeElement.name") == "verdict"

    def message_and_decision_in_view() -> None:
        # The decision is beside the keys too, for when the one above has scrolled away.
        assert fully_in_view(page, "#message") and fully_in_view(page, "#audit .gate-said")
        assert page.text_content("#audit .gate-said b").strip() == "Held for review"
        assert not overlaps(page, "#message", "#audit .gate-said")
        assert not overlaps(page, "#message", "#audit-form button[type=submit]")

    screenshots(
        page, "audit-enter-refused", lambda: press(page, "Enter"), message_and_decision_in_view
    )
    press(page, "n")
    page.wait_for_selector("#audit .empty")
    audit.refresh_from_db()
    assert audit.status == Audit.Status.CONFIRMED and audit.usable is False
    assert Annotation.objects.get(source="audit").values["color"] == "defect"


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_the_outcome_filter_shows_only_launched_audits(live_server, browser_page, project, ops):
    review = decided(project, "review")
    launched = [decided(project, "launch"), decided(project, "launch")]
    rejected = decided(project, "reject")
    page = browser_page
    log_in(page, live_server, ops, f"/p/{project.pk}/audit/?outcome=launch")
    seen = []
    for _ in launched:
        seen.append(shown_audit(page))
        assert page.text_content("#decision").strip() == "Launched"
        press(page, "y")
        wait_until(
            page,
            f"!document.querySelector('#audit-form') || "
            f"document.querySelector('#audit-form').dataset.audit !== '{seen[-1]}'",
        )
    assert seen == [a.pk for a in launched]
    page.wait_for_selector("#audit .empty")
    assert "among ads the gate launched" in page.text_content("#audit .empty")
    assert set(Audit.objects.filter(status="pending").values_list("pk", flat=True)) == {
        review.pk,
        rejected.pk,
    }


def trace_text() -> str:
    world, (train, _) = agent_world(), task_split()
    return json.dumps(to_chat(run_scripted(world, train[0], flaw="timeout", seed=0)))


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_trace_enter_without_outcome_says_so_in_view_and_focuses_it(
    live_server, browser_page, project, annotator
):
    (item,) = traces_import(project=project, text=trace_text())
    page = browser_page
    log_in(page, live_server, annotator, f"/p/{project.pk}/label/")
    page.wait_for_selector("#label-form.trace")
    press(page, *["1"] * len(item.payload["steps"]), "Enter")
    page.wait_for_selector("#message:not(:empty)")
    assert "outcome" in page.text_content("#message")
    assert page.evaluate("document.activeElement.closest('.outcome') !== null")

    def message_in_view() -> None:
        box = page.locator("#message").bounding_box()
        width, height = page.viewport_size["width"], page.viewport_size["height"]
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= height
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        assert not overlaps(page, "#message", "#label-form button[type=submit]")
        assert not overlaps(page, "#message", "#label-form .outcome")
        assert fully_in_view(page, "#label-form .outcome")
        assert page.evaluate("document.activeElement.closest('.outcome') !== null")

    screenshots(page, "trace-enter-refused", lambda: press(page, "Enter"), message_in_view)
    press(page, "s")  # the answer clears the message
    wait_until(page, "!document.querySelector('#message').classList.contains('shown')")
    press(page, "Enter")
    done(page, 1)
    assert Annotation.objects.get().values["outcome"] == "success"


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_query_expansion_enter_with_a_term_unrated_focuses_it(
    live_server, browser_page, project, annotator
):
    payload = {
        "query": "kicks",
        "terms": ["running shoes", "socks", "sandals"],
        "a": {"terms": ["running shoes"], "results": [{"sku": "S1", "title": "Strideon shoe"}]},
        "b": {"terms": ["socks", "sandals"], "results": []},
        "results_without": [],
    }
    Item.objects.create(project=project, kind=QE_KIND, payload=payload)
    page = browser_page
    log_in(page, live_server, annotator, f"/p/{project.pk}/label/")
    press(page, "r", "j", "d", "Enter")  # "socks" is skipped over with j
    page.wait_for_selector("#message:not(:empty)")
    assert '"socks"' in page.text_content("#message")
    assert page.evaluate("document.activeElement.closest('.term').dataset.field") == "rate_1"

    def message_in_view() -> None:
        assert fully_in_view(page, "#message") and fully_in_view(page, "#label-form .flagged")
        assert not overlaps(page, "#message", "#label-form .flagged")

    screenshots(page, "qe-enter-refused", lambda: press(page, "Enter"), message_in_view)
    press(page, "r", "Enter")  # the flagged term is the current one; the preference is open
    wait_until(page, "document.getElementById('message').textContent.includes('better')")
    assert page.evaluate("document.activeElement.name") == "prefer"
    press(page, "b", "Enter")
    done(page, 1)
    assert Annotation.objects.get().values["prefer"] == "b"


@pytest.mark.django_db
def test_the_server_refuses_a_usable_ad_with_a_defect(project, annotator):
    ItemFactory(project=project)
    client = Client()
    client.force_login(annotator)
    client.get(reverse("labeling:label", args=[project.pk]))
    assignment = annotator.assignments.get()
    values = {"shape": "ok", "placement": "defect", "color": "ok", "usable": "yes"}
    response = client.post(reverse("labeling:submit", args=[project.pk, assignment.pk]), values)
    assert response.status_code == 400
    page = response.content.decode()
    # in the message region, which shows because it has text
    assert re.search(
        r'id="message" class="message-region" role="alert"[^>]*>[^<]*placement is marked defect: '
        "an ad with a defect is not usable",
        page,
    )
    assert not Annotation.objects.exists()
    # Every aspect ok and still not usable is a judgement, and is kept.
    values = {"shape": "ok", "placement": "ok", "color": "ok", "usable": "no"}
    response = client.post(reverse("labeling:submit", args=[project.pk, assignment.pk]), values)
    assert response.status_code == 302 and Annotation.objects.get().values == values
