"""Many annotators asking at once: no item goes to more people than the overlap allows,
and no successful submission is lost. Real threads, real transactions, each with its own
database connection (run on PostgreSQL and on the embedded SQLite default)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from labeling import services
from labeling.models import Annotation, Assignment
from tests.factories import GOOD, ItemFactory, UserFactory, add_member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.backend]


def run_annotators(project, users, barrier):  # type: ignore[no-untyped-def]
    handed: list[tuple[int, str]] = []
    submitted: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(user) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            while (task := services.task_next(project=project, user=user)) is not None:
                with lock:
                    handed.append((task.item_id, user.username))
                annotation, _ = services.annotation_submit(
                    assignment_id=task.pk, user=user, values=GOOD
                )
                # A retried request (the client never saw the first answer) is harmless.
                services.annotation_submit(assignment_id=task.pk, user=user, values=GOOD)
                with lock:
                    submitted.append(annotation.pk)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    return handed, submitted


@pytest.mark.parametrize("overlap", [1, 2])
def test_concurrent_annotators(groups, project, overlap):
    from jdreview.roles import Role

    project.overlap = overlap
    project.save()
    ItemFactory.create_batch(40, project=project)
    users = []
    for i in range(8):
        user = UserFactory(username=f"racer{i}")
        user.groups.add(groups[Role.ANNOTATOR])
        add_member(user, project)
        users.append(user)
    handed, submitted = run_annotators(project, users, threading.Barrier(len(users)))
    per_item = Counter(item for item, _ in set(handed))
    assert set(per_item.values()) == {overlap}, "an item went to more (or fewer) people"
    assert len(per_item) == 40
    assert not [pair for pair, n in Counter(handed).items() if n > 1], "handed twice to one person"
    stored = set(Annotation.objects.filter(project=project).values_list("pk", flat=True))
    assert set(submitted) <= stored, "a successful submit has no stored annotation"
    assert len(stored) == 40 * overlap
    assert not Assignment.objects.filter(project=project, status="active").exists()
    assert connection.vendor in ("postgresql", "sqlite")
