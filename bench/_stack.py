"""The server side of the annotation-loop benchmark: its own PostgreSQL database, a temp
media folder and gunicorn, all undone by ``Stack.close``; and a meter of the CPU they use."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Server:
    """One gunicorn (master and workers) of a stack."""

    process: subprocess.Popen[bytes]
    log: Path
    base: str


class Stack:
    """The database, media folder and gunicorn of one benchmark run; ``close`` undoes all.

    ``start`` may run more than one gunicorn on the same database (each with an
    environment of its own, e.g. metrics on and off); ``server`` and ``base`` are the last
    one started."""

    def __init__(self, server_url: str, extra_env: dict[str, str] | None = None) -> None:
        self.extra_env = extra_env or {}  # e.g. REDIS_URL, for every process of the stack
        self.admin_url = _with_db(server_url, "postgres")
        self.db = f"jdreview_bench_{os.getpid()}"
        self.db_url = _with_db(server_url, self.db)
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        self.created_db = False
        self.server: subprocess.Popen[bytes] | None = None
        self.server_log: Path | None = None
        self.base = ""
        self.servers: list[Server] = []

    def env(self) -> dict[str, str]:
        assert self.tmp is not None
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.db_url,
            JDREVIEW_VAR_DIR=self.tmp.name,
            MEDIA_ROOT=str(Path(self.tmp.name) / "media"),
            DEBUG="0",
            LOG_LEVEL="WARNING",
            DJANGO_SETTINGS_MODULE="jdreview.settings",
            PYTHONUNBUFFERED="1",
            OMP_NUM_THREADS="1",
            HF_HUB_OFFLINE="1",
        )
        env.setdefault("SECRET_KEY", "bench-only-secret-key")
        env.update(self.extra_env)
        return env

    def create(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="jdreview-bench-")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db}"')
        self.created_db = True

    def seed(self, *, users: int, items: int, projects: list[int], overlap: int) -> dict:
        out = subprocess.run(
            [
                PYTHON,
                str(ROOT / "bench" / "_seed.py"),
                "--users",
                str(users),
                "--items",
                str(items),
                "--projects",
                ",".join(map(str, projects)),
                "--overlap",
                str(overlap),
            ],
            env=self.env(),
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
        )
        return json.loads(out.stdout.decode().strip().splitlines()[-1])

    def start(
        self,
        *,
        workers: int,
        worker_class: str,
        threads: int,
        token: str,
        env: dict[str, str] | None = None,
    ) -> Server:
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        cmd = [
            GUNICORN,
            "jdreview.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--backlog",
            "2048",
            "--keep-alive",
            "30",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
        ]
        # Its own session, so the cleanup below can stop the master and all its workers.
        assert self.tmp is not None
        self.server_log = Path(self.tmp.name) / f"gunicorn-{len(self.servers)}.log"
        with self.server_log.open("wb") as log_file:
            self.server = subprocess.Popen(
                cmd,
                env={**self.env(), **(env or {})},
                cwd=ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.servers.append(Server(self.server, self.server_log, self.base))
        deadline = time.monotonic() + 90
        req = urllib.request.Request(
            f"{self.base}/api/projects/", headers={"Authorization": f"Token {token}"}
        )
        while True:
            if self.server.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with code {self.server.returncode}:\n"
                    + self.server_log_tail()
                )
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    if resp.status == 200:
                        return self.servers[-1]
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer within 90 s")
            time.sleep(0.3)

    def server_log_tail(self, lines: int = 40) -> str:
        if self.server_log is None or not self.server_log.exists():
            return ""
        text = self.server_log.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop_server(self) -> None:
        for server in self.servers:
            _stop(server.process)

    def close(self) -> None:
        # Each step runs even if an earlier one failed: leave nothing behind.
        try:
            self.stop_server()
        finally:
            try:
                if self.created_db:
                    with psycopg.connect(self.admin_url, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            finally:
                if self.tmp is not None:
                    self.tmp.cleanup()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except (subprocess.TimeoutExpired, KeyboardInterrupt) as exc:
        # Too slow, or a second Ctrl-C: stop the master and its workers for sure.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
        if isinstance(exc, KeyboardInterrupt):
            raise


_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _proc_cpu_ms(pid: int) -> float:
    """User + system CPU of one process so far (Linux /proc), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) * _TICK_MS


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return kids


class CpuMeter:
    """CPU spent by gunicorn (master and workers) and by this database's PostgreSQL
    backends: a cost per iteration that the other jobs on a shared machine do not skew
    as much as wall-clock throughput. Backends are read from /proc, so the database must
    run on this machine (otherwise the db column reads 0)."""

    def __init__(self, stack: Stack, server: Server | None = None) -> None:
        self.stack = stack
        self.server = server

    def _pids(self) -> tuple[list[int], list[int]]:
        process = self.server.process if self.server is not None else self.stack.server
        assert process is not None
        master = process.pid
        with psycopg.connect(self.stack.db_url, autocommit=True) as conn:
            backends = [
                r[0]
                for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                ).fetchall()
            ]
        return [master, *_children(master)], backends

    def sample(self) -> dict[int, float]:
        web, db = self._pids()
        return {**{p: _proc_cpu_ms(p) for p in web}, **{-p: _proc_cpu_ms(p) for p in db}}

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> tuple[float, float]:
        web = sum(v - before.get(k, 0.0) for k, v in after.items() if k > 0)
        db = sum(v - before.get(k, 0.0) for k, v in after.items() if k < 0)
        return web, db
