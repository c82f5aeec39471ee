"""A reviewer marks agent traces with the keyboard only, in headless Chromium: j/k move
between steps, 1/2/3 mark them, s/f the outcome, n a note, Enter submits, u undoes. Trace
text that looks like HTML or script stays text (no dialog ever opens)."""

from __future__ import annotations

import json

import pytest

from labeling.models import Annotation
from tests.browser import wait_until
from workers.agents.ml.scripted import run_scripted
from workers.agents.ml.trace import to_chat
from workers.agents.traces.services import traces_import
from workers.agents.world import agent_world, task_split

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.slow,
]


def traces(n: int) -> str:
    world, (train, _) = agent_world(), task_split()
    out = []
    for i, task in enumerate(train[:n]):
        chat = to_chat(run_scripted(world, task, flaw="timeout", seed=i))
        chat["messages"][2]["content"] = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
        out.append(json.dumps(chat))
    return "\n".join(out)


def current_step(page) -> str:  # type: ignore[no-untyped-def]
    return page.get_attribute("#label-form .step.current", "data-step")


def test_reviewer_marks_traces_keyboard_only(live_server, browser_page, project, annotator):
    items = traces_import(project=project, text=traces(3))
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{live_server.url}/accounts/login/?next=/p/{project.pk}/label/")
    page.keyboard.type(annotator.username)
    page.keyboard.press("Tab")
    page.keyboard.type("pw-for-tests")
    page.keyboard.press("Enter")
    page.wait_for_selector("#label-form.trace")
    page.wait_for_load_state("load")  # trace.js is in place before the first key

    expected = {}
    for number in range(1, 3):
        item_id = int(page.get_attribute("#label-form", "data-item"))
        n = len(next(i for i in items if i.pk == item_id).payload["steps"])
        assert current_step(page) == "0"
        page.keyboard.press("j")
        assert current_step(page) == ("1" if n > 1 else "0"), f"trace {number}"
        page.keyboard.press("k")
        assert current_step(page) == "0"
        verdicts = ["ok"] * n
        verdicts[-1] = "execution"
        for v in verdicts:  # each mark moves on to the next step
            page.keyboard.press({"ok": "1", "reasoning": "2", "execution": "3"}[v])
        page.keyboard.press("n")  # a note on the current (last) step
        page.keyboard.type("timed out <not retried>")
        page.keyboard.press("Escape")
        page.keyboard.press("f")
        page.keyboard.press("Enter")
        wait_until(page, f"document.getElementById('done-count').textContent.trim() === '{number}'")
        expected[item_id] = {
            "steps": verdicts,
            "notes": {str(n - 1): "timed out <not retried>"},
            "outcome": "failure",
        }

    # Enter with a step left open says which, and stores nothing.
    page.keyboard.press("Enter")
    page.wait_for_selector("#message:not(:empty)")
    assert "step 1" in page.text_content("#message")
    # Undo brings the last trace back with its verdicts.
    page.keyboard.press("u")
    wait_until(page, "document.getElementById('done-count').textContent.trim() === '1'")
    assert page.is_checked('#label-form input[name="outcome"][value="failure"]')

    live = Annotation.objects.filter(user=annotator, undone=False)
    assert {a.item_id: a.values for a in live}.items() <= expected.items()
    assert live.count() == 1 and all(a.lead_time_ms for a in live)
    assert dialogs == []  # the planted <img onerror> and <script> never ran
