"""Run as ``python -m tests.torchless_pages``: render every page with torch unimportable.

A web worker should never import torch to draw a page (it costs seconds and hundreds of
megabytes per process); only a request that runs a model may. This child process blocks
``import torch``, builds a project with a row of every kind a page shows (including a
query-expansion RL version and live reward models, whose panels once imported torch for a
constant), then GETs every URL pattern the resolver knows as an admin. It prints one JSON
line: the pages that failed, and whether torch got imported anyway.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import sys
import tempfile
import traceback


class _BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):  # type: ignore[no-untyped-def]
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"{name} is blocked: pages must not import torch")
        return None


def main() -> None:
    sys.meta_path.insert(0, _BlockTorch())
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["JDREVIEW_VAR_DIR"] = tempfile.mkdtemp(prefix="jdreview-torchless-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jdreview.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import get_resolver, reverse

    setup_test_environment()
    call_command("migrate", verbosity=0)
    from jdreview.roles import Role, ensure_role_groups
    from tests.factories import UserFactory
    from tests.test_url_walk import _patterns, make_rows

    groups = ensure_role_groups()
    admin = UserFactory(username="torchless-admin", is_staff=True, is_superuser=True)
    admin.groups.add(groups[Role.ADMIN])
    rows = make_rows(groups)
    failed: list[str] = []
    client = Client()
    client.force_login(admin)
    for name, _, keys in _patterns(get_resolver().url_patterns):
        paths = rows["path"] if "path" in keys else [None]
        for path in paths:
            kwargs = {k: rows[k] for k in keys if k != "path"}
            if path is not None:
                kwargs["path"] = path
            url = reverse(name, kwargs=kwargs)
            try:
                code = client.get(url).status_code
            except Exception as exc:  # the test client re-raises a view's exception
                where = traceback.extract_tb(exc.__traceback__)[-1]
                failed.append(
                    f"{url} ({name}): {type(exc).__name__}: {exc} "
                    f"at {where.filename}:{where.lineno}"
                )
                continue
            if code >= 500:
                failed.append(f"{url} ({name}): {code}")
    print(json.dumps({"failed": failed, "torch_imported": "torch" in sys.modules}))


if __name__ == "__main__":
    main()
