"""Settings read from the environment fail loudly; the OpenAPI schema is generated and valid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from jdreview.env import env_bool, env_int

ROOT = Path(__file__).resolve().parent.parent


def test_env_helpers_refuse_bad_values(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG")
    monkeypatch.setenv("X_NUM", "12abc")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 5"):
        env_int("X_NUM", 10, minimum=5)
    monkeypatch.setenv("X_FLAG", "Yes")
    assert env_bool("X_FLAG") is True


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DATABASE_URL": "mysql://x@y/z"}, "PostgreSQL"),
        ({"UPLOAD_MAX_BYTES": "lots"}, "UPLOAD_MAX_BYTES"),
        ({"DEBUG": "sometimes"}, "DEBUG"),
    ],
)
def test_app_refuses_to_start_with_bad_settings(env, message, tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "JDREVIEW_VAR_DIR": str(tmp_path), **env},
        timeout=120,
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_openapi_schema_is_valid(tmp_path):
    out = tmp_path / "schema.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JDREVIEW_VAR_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    schema = out.read_text()
    for path in (
        "/api/projects/{project_id}/next/",
        "/api/tasks/{assignment_id}/submit/",
        "/api/projects/{project_id}/export/",
    ):
        assert path in schema


@pytest.mark.django_db
def test_schema_and_docs_are_served(client, annotator):
    client.force_login(annotator)
    assert client.get(reverse("schema")).status_code == 200
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
