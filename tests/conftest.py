"""Shared fixtures: personas (one per role, plus an outsider) and a small project.

Personas: ``annotator`` (member), ``ops`` (member), ``manager`` (member), ``admin``,
``outsider`` (an annotator who is not a member of the project).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from jdreview.roles import Role, ensure_role_groups
from tests.browser import browser_page  # noqa: F401  (a fixture for the browser tests)
from tests.factories import ItemFactory, ProjectFactory, UserFactory, add_member

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path_factory, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))
    # Each test writes its model artifacts into a folder of its own.
    settings.ARTIFACT_ROOT = str(tmp_path / "artifacts")
    # The default hasher is slow on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def no_enqueue(monkeypatch):  # type: ignore[no-untyped-def]
    """Jobs are created as rows but not sent to the broker: the test runs them itself."""
    monkeypatch.setattr("workers.services._enqueue", lambda job_id, queue: None)


@pytest.fixture
def one_torch_thread():  # type: ignore[no-untyped-def]
    """One torch thread: on a shared two-core machine, two torch threads contend badly."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def media_tmp():  # type: ignore[no-untyped-def]
    path = tempfile.mkdtemp(prefix="jdreview-media-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def groups(db):  # type: ignore[no-untyped-def]
    return ensure_role_groups()


def _persona(groups, name: str, role: Role | None):  # type: ignore[no-untyped-def]
    user = UserFactory(username=name)
    if role is not None:
        user.groups.add(groups[role])
    if role == Role.ADMIN:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def project(db):  # type: ignore[no-untyped-def]
    return ProjectFactory()


@pytest.fixture
def other_project(db):  # type: ignore[no-untyped-def]
    return ProjectFactory()


@pytest.fixture
def annotator(groups, project):  # type: ignore[no-untyped-def]
    user = _persona(groups, "anna", Role.ANNOTATOR)
    add_member(user, project)
    return user


@pytest.fixture
def annotator2(groups, project):  # type: ignore[no-untyped-def]
    user = _persona(groups, "bert", Role.ANNOTATOR)
    add_member(user, project)
    return user


@pytest.fixture
def ops(groups, project):  # type: ignore[no-untyped-def]
    user = _persona(groups, "otto", Role.OPS)
    add_member(user, project)
    return user


@pytest.fixture
def manager(groups, project):  # type: ignore[no-untyped-def]
    user = _persona(groups, "mona", Role.MANAGER)
    add_member(user, project)
    return user


@pytest.fixture
def admin(groups):  # type: ignore[no-untyped-def]
    return _persona(groups, "ada", Role.ADMIN)


@pytest.fixture
def outsider(groups, other_project):  # type: ignore[no-untyped-def]
    user = _persona(groups, "olga", Role.ANNOTATOR)
    add_member(user, other_project)
    return user


@pytest.fixture
def items(project):  # type: ignore[no-untyped-def]
    return ItemFactory.create_batch(5, project=project)


def api_client_for(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api():  # type: ignore[no-untyped-def]
    return api_client_for
