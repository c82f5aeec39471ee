"""The API fuzzed against its own OpenAPI schema (schemathesis, in process over WSGI):
whatever an admin or an annotator sends, the answer is never a 5xx, and it is one the
schema documents (status code, content type, body).

Bounded to stay quick and stable in CI: EXAMPLES cases per operation and persona (and
schemathesis's examples and coverage cases), derandomized, no example database; the run
as a whole takes about a minute on two slow cores.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from labeling import services
from tests.factories import GOOD, ItemFactory
from workers.models import Job

# Where "a body the schema allows is accepted" does not hold, by design: the content has
# rules a JSON schema does not carry, checked by the server with a 400 that says which.
CONTENT_CHECKED = {
    "POST /api/expand/",  # the query's text: no control characters, after NFKC
    "POST /api/projects/{project_id}/items/",  # the file must be a readable image
    "POST /api/projects/{project_id}/import/",  # UTF-8 JSON lines naming uploaded images
    "POST /api/projects/{project_id}/import/labelstudio/",  # tasks naming images
    "POST /api/projects/{project_id}/traces/import/",  # the chat format of each trace
    "POST /api/tasks/{assignment_id}/submit/",  # values are checked by the item's kind
    "POST /api/projects/{project_id}/jobs/",  # params are checked by the job's kind
    "GET /api/projects/{project_id}/activity/",  # since/until: real dates, until after since
}

FORM_MEDIA_TYPES = {"multipart/form-data", "application/x-www-form-urlencoded"}
EXAMPLES = 40  # per operation and persona, in the fuzzing phase

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 14,
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        # Stateful runs chain calls through links the schema does not declare; the phases
        # above already send every operation valid and invalid input.
        "phases": {"stateful": {"enabled": False}},
    }
)
# Every operation is fuzzed; none is left out. Jobs are created but never sent to a
# worker (``world`` stubs the broker), so no training starts.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)

# Ids in paths and bodies: the fuzzer's own numbers name nothing (a 404 every time), so
# about half the cases (``known_ids``) name a row that exists instead.
ID_FIELDS = {
    "project_id": "project",
    "project": "project",
    "assignment_id": "task",
    "job_id": "job",
}


@pytest.fixture
def world(project, annotator, admin, monkeypatch) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("workers.tasks.run_job.apply_async", lambda *args, **kwargs: None)
    ItemFactory.create_batch(6, project=project)
    tasks = {}
    for user in (annotator, admin):
        done = services.task_next(project=project, user=user)
        assert done is not None
        services.annotation_submit(assignment_id=done.pk, user=user, values=GOOD)
        tasks[user.username] = services.task_next(project=project, user=user)
    job = Job.objects.create(kind="export", project=project, params={"format": "jsonl"})
    return {"project": project.pk, "tasks": tasks, "job": job.pk}


def _use_known_ids(case: Any, world: dict[str, Any], username: str) -> None:
    known = {"project": world["project"], "task": world["tasks"][username].pk, "job": world["job"]}
    for container in (case.path_parameters, case.query, case.body):
        if not isinstance(container, dict):
            continue
        for name, kind in ID_FIELDS.items():
            if isinstance(container.get(name), int) and not isinstance(container[name], bool):
                container[name] = known[kind]


# Transactional: the real WSGI handler closes the database connection after each request,
# which would drop the transaction a plain django_db test runs in.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("persona", ["admin", "annotator"])
@schema.parametrize()
@schema.given(known_ids=st.booleans())
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_schema(case, known_ids, persona, world, request):  # type: ignore[no-untyped-def]
    user = request.getfixturevalue(persona)
    token, _ = Token.objects.get_or_create(user=user)
    if known_ids:
        _use_known_ids(case, world, user.username)
    excluded = [positive_data_acceptance] if case.operation.label in CONTENT_CHECKED else []
    if case.media_type in FORM_MEDIA_TYPES:
        # A form field is text: "false" is a string the schema allows, whatever type the
        # fuzzer meant it to be, so a form cannot violate a non-string type.
        excluded.append(negative_data_rejection)
    case.call_and_validate(
        headers={"Authorization": f"Token {token.key}"}, excluded_checks=excluded
    )
