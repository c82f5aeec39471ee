"""The app as the fault benchmark sees it from outside: jobs made over the API as a manager
would, and the rows and artifact files it reads back (psycopg, no Django)."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

JOB_FIELDS = ("status", "progress", "attempts", "worker", "started_at", "error", "log_tail")


class Probe:
    def __init__(
        self, *, db_url: str, base: str, artifacts: Path, project: int, token: str
    ) -> None:
        self.db_url, self.base, self.artifacts = db_url, base, artifacts
        self.project, self.token = project, token

    def create_job(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """POST a job; returns its id (None if refused), the HTTP status and the time taken."""
        req = urllib.request.Request(
            f"{self.base}/api/projects/{self.project}/jobs/",
            data=json.dumps({"kind": kind, "params": params}).encode(),
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, body = resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            status, body = exc.code, {}
        except (urllib.error.URLError, TimeoutError) as exc:
            status, body = 0, {"error": str(exc)}
        ms = round((time.perf_counter() - t) * 1000)
        return {"kind": kind, "status_code": status, "ms": ms, "id": body.get("id")}

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db_url, connect_timeout=3) as conn:
            return conn.execute(sql, params).fetchall()

    def job(self, job_id: int) -> dict[str, Any] | None:
        rows = self.query(
            f"SELECT {', '.join(JOB_FIELDS)} FROM workers_job WHERE id = %s", (job_id,)
        )
        return dict(zip(JOB_FIELDS, rows[0])) if rows else None

    def wait(self, predicate: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
        """The first true value of ``predicate`` within ``timeout`` seconds, else None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = predicate()
            except psycopg.OperationalError:
                value = None  # the database is restarting: ask again
            if value:
                return value
            time.sleep(interval)
        return None

    def live_models(self) -> dict[str, tuple[int, str]]:
        """aspect -> (live version id, hash of its artifact files)."""
        rows = self.query(
            "SELECT slot, id, artifact FROM workers_modelversion "
            "WHERE project_id = %s AND family = 'aspect_reward' AND status = 'live'",
            (self.project,),
        )
        return {aspect: (pk, self.artifact_hash(artifact)) for aspect, pk, artifact in rows}

    def artifact_hashes(self, version_ids: list[int]) -> dict[int, str]:
        rows = self.query(
            "SELECT id, artifact FROM workers_modelversion WHERE id = ANY(%s)", (version_ids,)
        )
        return {pk: self.artifact_hash(artifact) for pk, artifact in rows}

    def versions_of_job(self, job_id: int) -> set[int]:
        rows = self.query("SELECT id FROM workers_modelversion WHERE job_id = %s", (job_id,))
        return {r[0] for r in rows}

    def artifact_hash(self, artifact: str) -> str:
        digest = hashlib.sha256()
        base = self.artifacts / artifact
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(base)).encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def stored(self, project_id: int) -> set[tuple[int, int, int]]:
        """(assignment, user, item) of the live annotations of a project."""
        rows = self.query(
            "SELECT assignment_id, user_id, item_id FROM labeling_annotation "
            "WHERE project_id = %s AND NOT undone",
            (project_id,),
        )
        return {(a, u, i) for a, u, i in rows}

    def shared_assignments(self, project_id: int) -> int:
        """Assignments annotated by someone other than their holder, or by two people."""
        (row,) = self.query(
            """
            SELECT
              (SELECT count(*) FROM labeling_annotation an
               JOIN labeling_assignment a ON a.id = an.assignment_id
               WHERE an.project_id = %s AND an.user_id <> a.user_id)
            + (SELECT count(*) FROM (
                SELECT assignment_id FROM labeling_annotation
                WHERE project_id = %s AND assignment_id IS NOT NULL
                GROUP BY assignment_id HAVING count(DISTINCT user_id) > 1) AS two)
            """,
            (project_id, project_id),
        )
        return int(row[0])
