"""An annotator logs in and labels five images with the keyboard only, in headless Chromium."""

from __future__ import annotations

import pytest

from labeling.models import Annotation
from tests.browser import wait_until
from tests.factories import ItemFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.slow,
]

# Keys per image and the values they must store. Space = everything ok + usable + submit.
PLAN = [
    (["Space"], {"shape": "ok", "placement": "ok", "color": "ok", "usable": "yes"}),
    (
        ["q", "s", "e", "f", "Enter"],
        {"shape": "ok", "placement": "defect", "color": "ok", "usable": "no"},
    ),
    (
        ["a", "w", "d", "f", "Enter"],
        {"shape": "defect", "placement": "ok", "color": "defect", "usable": "no"},
    ),
    (["Space"], {"shape": "ok", "placement": "ok", "color": "ok", "usable": "yes"}),
    (
        ["a", "s", "d", "f", "Enter"],
        {"shape": "defect", "placement": "defect", "color": "defect", "usable": "no"},
    ),
]


def test_annotator_labels_five_images_keyboard_only(live_server, browser_page, project, annotator):
    ItemFactory.create_batch(6, project=project)
    page = browser_page
    # The page works under its Content-Security-Policy: nothing it needs is blocked.
    blocked: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and blocked.append(m.text))
    page.goto(f"{live_server.url}/accounts/login/?next=/p/{project.pk}/label/")
    page.keyboard.type(annotator.username)
    page.keyboard.press("Tab")
    page.keyboard.type("pw-for-tests")
    page.keyboard.press("Enter")
    page.wait_for_selector("#ad-image")
    assert page.locator("kbd", has_text="Space").count() >= 1  # keys are shown on the page
    shown = []
    for number, (keys, _) in enumerate(PLAN, start=1):
        wait_until(page, "document.querySelector('#ad-image').complete")
        shown.append(page.get_attribute("#label-form", "data-item"))
        # The image came through the access-checked media view.
        wait_until(page, "document.querySelector('#ad-image').naturalWidth === 64")
        if number == 3:  # mark the defect with a box: drag across the image
            box = page.locator("#ad-image").bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
            page.mouse.up()
        for key in keys:
            page.keyboard.press(key)
        wait_until(page, f"document.getElementById('done-count').textContent.trim() === '{number}'")
    # The last label was wrong: undo brings the image back, and it is labeled again.
    page.keyboard.press("u")
    wait_until(page, "document.getElementById('done-count').textContent.trim() === '4'")
    assert page.get_attribute("#label-form", "data-item") == shown[-1]
    for key in ["q", "w", "e", "r", "Enter"]:
        page.keyboard.press(key)
    wait_until(page, "document.getElementById('done-count').textContent.trim() === '5'")

    live = Annotation.objects.filter(user=annotator, undone=False).order_by("id")
    stored = {str(a.item_id): a.values for a in live}
    expected = [values for _, values in PLAN]
    expected[-1] = {"shape": "ok", "placement": "ok", "color": "ok", "usable": "yes"}
    assert [stored[item] for item in shown] == expected
    assert len(shown) == len(set(shown)) == 5
    assert blocked == []
    assert Annotation.objects.filter(user=annotator, undone=True).count() == 1
    assert all(a.lead_time_ms is not None for a in live)
    marks = {str(a.item_id): a.marks for a in live}
    (drawn,) = marks[shown[2]]
    assert drawn["type"] == "box"
    assert drawn["w"] == pytest.approx(0.4 * 64, abs=3) and drawn["h"] == pytest.approx(
        0.3 * 64, abs=3
    )
