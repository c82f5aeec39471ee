"""Every review page fits a phone, a small laptop and a desktop, in headless Chromium.

At 390×844, 1280×720 and 1440×900: what finishes the task (the verdicts, Submit, Skip and
Undo on the labeling page; the decision, y / n and Submit on the audit page) is in the
viewport without scrolling, nothing makes the page wider than the screen (a wide table
scrolls inside its own box), the guidelines never cover the form, and on the phone every
control is at least 44 px. Each page is saved at each size under /tmp/screens/ for a look.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client

from jdreview.models import Product, Project
from labeling.models import Annotation
from rewards.models import Audit, Decision
from tests.browser import CHROMIUM
from tests.factories import ItemFactory, ProjectFactory, add_member, png_bytes
from workers.models import ModelVersion

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"phone": (390, 844), "laptop": (1280, 720), "desktop": (1440, 900)}
SHOTS = "/tmp/screens"
GUIDELINES = (
    "Shape: the product is whole and undistorted: nothing grown out of it, nothing cut "
    "off by the canvas.\n\nPlacement: grounded, a sensible size, not floating.\n\n"
    "Color: the background suits the product and lets it stand out."
)
TOUCH = ".choice, button, .button, header.top nav a"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One browser for the module; each test opens a fresh page in it."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed (./dev.sh test installs Debian's chromium)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the test's own ORM calls
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    yield context.new_page()
    context.close()


def log_in(page: Any, live_server: Any, user: Any) -> None:
    """A session cookie, not the login form (tests/test_browser_labeling.py types it)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def sizes(page: Any, url: str) -> Iterator[str]:
    """``url`` freshly loaded at each viewport in turn, at the top of the page. (One test
    per page walks the sizes: one seed and one login instead of three.)"""
    for size, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(url, wait_until="load")
        yield size


def shoot(page: Any, name: str, size: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/{name}-{size}.png")


def too_wide(page: Any) -> list[str]:
    """What sticks out past the right edge when the page is wider than the viewport."""
    return page.evaluate(
        """() => {
          const w = window.innerWidth;
          if (document.scrollingElement.scrollWidth <= w) return [];
          return Array.from(document.querySelectorAll('body *'))
            .filter((e) => e.getBoundingClientRect().right > w + 0.5).slice(0, 8)
            .map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''));
        }"""
    )


def out_of_view(page: Any, selector: str) -> list[str]:
    """Each element matching ``selector`` not wholly inside the viewport (or hidden)."""
    found = page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).map((e) => {
          const r = e.getBoundingClientRect();
          const out = r.width === 0 || r.top < 0 || r.left < 0
            || r.bottom > window.innerHeight || r.right > window.innerWidth;
          const what = (e.textContent || e.tagName).trim().slice(0, 30);
          return out ? what + ' @' + Math.round(r.bottom) : '';
        })""",
        selector,
    )
    assert found, f"nothing matches {selector}"
    return [f for f in found if f]


def small_targets(page: Any, selector: str) -> list[str]:
    """Visible elements matching ``selector`` under 44 px in either direction."""
    return page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).filter((e) => {
          const r = e.getBoundingClientRect();
          return r.width > 0 && (r.height < 44 || r.width < 44);
        }).map((e) => (e.textContent || e.tagName).trim().slice(0, 20) + ' '
          + Math.round(e.getBoundingClientRect().width) + 'x'
          + Math.round(e.getBoundingClientRect().height))""",
        selector,
    )


def overlap(page: Any, a: str, b: str) -> bool:
    return page.evaluate(
        """([a, b]) => {
          const x = document.querySelector(a).getBoundingClientRect();
          const y = document.querySelector(b).getBoundingClientRect();
          return !(x.right <= y.left || y.right <= x.left
            || x.bottom <= y.top || y.bottom <= x.top);
        }""",
        [a, b],
    )


def width_of(page: Any, selector: str) -> float:
    return float(
        page.evaluate(f"document.querySelector('{selector}').getBoundingClientRect().width")
    )


def ads(project: Project, n: int) -> list[Any]:
    """256 px ads, as the demo's are, with the product's title and reference cut-out."""
    product = Product.objects.create(
        sku=f"knife-{project.pk}", title="Chef knife 20 cm", category="kitchen"
    )
    product.cutout.save("knife.png", ContentFile(png_bytes((128, 128))))
    return [
        ItemFactory(
            project=project,
            product=product,
            width=256,
            height=256,
            image=ContentFile(png_bytes((256, 256)), name="ad.png"),
            payload={"title": "Stainless steel chef knife, 20 cm"},
        )
        for _ in range(n)
    ]


def test_the_labeling_page_fits(live_server, page, project, annotator):
    project.guidelines = GUIDELINES
    project.save(update_fields=["guidelines"])
    ads(project, 2)
    log_in(page, live_server, annotator)
    for size in sizes(page, f"{live_server.url}/p/{project.pk}/label/"):
        page.wait_for_selector("#ad-image")
        shoot(page, "label", size)
        assert too_wide(page) == [], size
        assert out_of_view(page, "#label-form .choice") == [], size
        assert out_of_view(page, "#label-form button[type=submit]") == [], size
        assert out_of_view(page, "#skip-form button, #undo-form button") == [], size
        assert out_of_view(page, "#ad-image, #label-form .ref img") == [], size
        assert width_of(page, "#ad-image") >= 240, size  # the ad stays big enough to judge
        assert not overlap(page, "aside.guide", "#task"), size
    # On the phone (the last size walked was the desktop: back to it).
    page.set_viewport_size({"width": 390, "height": 844})
    assert small_targets(page, TOUCH) == []
    # The guidelines come after the task, not over it or beside it.
    assert page.evaluate(
        "document.querySelector('aside.guide').getBoundingClientRect().top >= "
        "document.querySelector('#task').getBoundingClientRect().bottom"
    )


def test_the_audit_page_fits(live_server, page, project, ops):
    for item in ads(project, 2):
        Decision.objects.create(
            item=item,
            project=project,
            scores={"shape": 0.41, "placement": 0.93, "color": 0.97},
            model_versions={},
            outcome="launch",
            driver="shape",
            reason="every aspect above its launch threshold",
        )
        Audit.objects.create(item=item, project=project, outcome="launch", sample_rate=1.0)
    log_in(page, live_server, ops)
    for size in sizes(page, f"{live_server.url}/p/{project.pk}/audit/"):
        page.wait_for_selector("#audit-form")
        shoot(page, "audit", size)
        assert too_wide(page) == [], size
        # The decision being audited, y and n, the aspects to mark, Submit.
        assert out_of_view(page, "#decision, #audit-form .choice") == [], size
        assert out_of_view(page, "#audit-form button[type=submit], #audit .scores input") == []
        assert width_of(page, "#ad-image") >= 240, size
        assert not overlap(page, "aside.guide", "#audit"), size
    page.set_viewport_size({"width": 390, "height": 844})
    assert small_targets(page, f"{TOUCH}, #audit .scores label, .audit-filter a") == []


def test_the_dashboard_and_the_projects_list_fit(
    live_server, page, groups, project, manager, annotator
):
    project.name = "Ad images, autumn catalogue"
    project.save(update_fields=["name"])
    for n in range(4):  # more projects, some with long names, for the list
        add_member(manager, ProjectFactory(name=f"Query expansion for long-tail queries {n}"))
    for item in ads(project, 3):
        Annotation.objects.create(
            item=item,
            project=project,
            user=annotator,
            values={"shape": "ok", "placement": "ok", "color": "ok", "usable": "yes"},
        )
    for aspect in ("shape", "placement", "color"):
        ModelVersion.objects.create(
            project=project,
            family="aspect_reward",
            slot=aspect,
            version=1,
            status="live",
            artifact=f"x/{aspect}",
            metrics={"auc": 0.91234, "accuracy": 0.8812, "ece": 0.031},
        )
    log_in(page, live_server, manager)
    for path, name in [
        ("/dashboard/", "dashboard"),
        ("/", "home"),
        (f"/p/{project.pk}/stats/", "stats"),
    ]:
        for size in sizes(page, f"{live_server.url}{path}"):
            shoot(page, name, size)
            assert too_wide(page) == [], (name, size)
            if size == "phone":
                assert small_targets(page, "header.top nav a, header.top button") == [], name
            if size == "phone" and name == "dashboard":
                # The wide gate table is there, scrolling inside its own box.
                assert page.evaluate(
                    "Array.from(document.querySelectorAll('table.grid'))"
                    ".some((t) => t.scrollWidth > t.clientWidth)"
                )
