"""The services the fault benchmark owns and breaks: a PostgreSQL cluster and a redis-server
of its own (127.0.0.1, free ports, a temp folder), a Celery worker and a beat-equivalent
dispatcher. Each ``stop`` is safe to call twice and after a failed start."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench._stack import PYTHON, ROOT, _children, _free_port


def _stop_group(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"no PostgreSQL {name} under /usr/lib/postgresql/*/bin")
    return found[-1]


class PgCluster:
    """initdb into ``root/pg`` as the postgres user (initdb refuses root), own port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "pg"
        self.sockets = root / "pg-sockets"
        self.log = root / "pg.log"
        self.port = _free_port()
        self.started = False

    def url(self, db: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def _as_postgres(self, *cmd: str, timeout: float = 60) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *cmd],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
        self._as_postgres(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-w",
            *extra, action,
        )  # fmt: skip

    def start(self) -> None:
        pw = pwd.getpwnam("postgres")
        os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.sockets.mkdir()
        os.chown(self.sockets, pw.pw_uid, pw.pw_gid)
        self._as_postgres(
            _pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync",
        )  # fmt: skip
        self._pg_ctl("start")
        self.started = True

    def restart(self) -> None:
        """A fast restart: sessions are rolled back and cut, the server comes back at once."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(subprocess.SubprocessError):
                self._pg_ctl("stop", "-m", "immediate")
            self.started = False


class RedisServer:
    """redis-server in the foreground of a child process, no persistence: a restart loses
    every message it held, as a crashed broker would."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.dir.mkdir(exist_ok=True)
        self.log = root / "redis.log"
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.dir)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 15
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: see {self.log}")
            time.sleep(0.05)

    def stop(self) -> None:
        _stop_group(self.proc)
        self.proc = None


class Process:
    """A child in its own session, logging to a file; stopped with its whole group."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.cmd, self.env, self.log = name, cmd, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[int]:
        return _children(self.pid) if self.alive() else []

    def log_tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        _stop_group(self.proc)


def celery_worker(env: dict[str, str], log: Path, n: int) -> Process:
    """One prefork worker serving both queues, one job at a time (as tests/worker.py)."""
    return Process(
        f"worker-{n}",
        [
            PYTHON, "-m", "celery", "-A", "jdreview", "worker", "-Q", "cpu,gpu", "-c", "1",
            "--pool", "prefork", "-l", "INFO", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-n", f"faults-{os.getpid()}-{n}@%h",
        ],
        env,
        log,
    )  # fmt: skip


def dispatcher(env: dict[str, str], log: Path, every_s: float) -> Process:
    """What beat does for the jobs, on a short period: sends the dispatch task."""
    return Process(
        "dispatcher",
        [PYTHON, str(ROOT / "bench" / "_faults_app.py"), "beat", "--every", str(every_s)],
        env,
        log,
    )
