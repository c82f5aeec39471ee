"""The demo's accounts (``manage.py seed_demo`` makes them; loops' demo seeds add them to
their projects)."""

from __future__ import annotations

from jdreview.roles import Role

DEMO_USERS = [
    ("admin", Role.ADMIN, "admin"),
    ("manager", Role.MANAGER, "manager"),
    ("ops", Role.OPS, "ops reviewer"),
    ("annotator", Role.ANNOTATOR, "annotator"),
    ("annotator2", Role.ANNOTATOR, "annotator"),
]
DEMO_PASSWORD = "jdreview-demo"
