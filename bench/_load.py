"""The load client of the annotation-loop benchmark: N simulated annotators over HTTP.

One asyncio process with keep-alive connections (aiohttp), so the client costs little of
the CPU the server needs. Each annotator asks for the next task and submits it, in a loop,
and the client keeps its own record of who got which item and which submits succeeded, so
the benchmark can check both against the database afterwards.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

import aiohttp

# A few answer variants, encoded once: the client should not spend CPU on JSON.
_ANSWERS = [
    json.dumps({"values": {"shape": s, "placement": p, "color": c, "usable": u}}).encode()
    for s, p, c, u in [
        ("ok", "ok", "ok", "yes"),
        ("defect", "ok", "ok", "no"),
        ("ok", "defect", "ok", "no"),
        ("ok", "ok", "defect", "no"),
    ]
]


@dataclass
class LoadResult:
    annotators: int
    seconds: float  # length of the measured window
    iterations: int = 0  # next + submit pairs that ended inside the measured window
    latencies_ms: list[float] = field(default_factory=list)  # next + submit, measured only
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    # Client-side record over the whole run (warm-up included): correctness counts all.
    handed: dict[int, set[int]] = field(default_factory=dict)  # item id -> user ids
    submitted: list[tuple[int, int, int]] = field(default_factory=list)  # (asg, user, item)
    holders: dict[int, set[int]] = field(default_factory=dict)  # assignment id -> user ids
    # Every request: (start, end) on time.perf_counter, "next" / "submit" / "error", HTTP
    # status (0 when no answer came), so a fault benchmark can place each against its faults.
    requests: list[tuple[float, float, str, int]] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    ran_dry: int = 0  # annotators that got 204 (queue empty) before the end

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def _annotator(
    session: aiohttp.ClientSession,
    base: str,
    project_id: int,
    user: dict,
    t_measure: float,
    t_end: float,
    result: LoadResult,
    rng: random.Random,
    think_s: float,
) -> None:
    auth = {"Authorization": f"Token {user['token']}"}
    post_headers = {**auth, "Content-Type": "application/json"}
    next_url = f"{base}/api/projects/{project_id}/next/"
    uid = user["id"]
    while (t0 := time.perf_counter()) < t_end:
        sent_at = t0  # start of the request in flight, for the record of a failed one
        try:
            async with session.get(next_url, headers=auth) as resp:
                body = await resp.read()
                result.requests.append((t0, time.perf_counter(), "next", resp.status))
                if resp.status == 204:
                    result.ran_dry += 1
                    return
                if resp.status != 200:
                    result.error(f"next {resp.status}")
                    await asyncio.sleep(0.05)
                    continue
            task = json.loads(body)
            t1 = sent_at = time.perf_counter()
            asg, item = task["assignment_id"], task["item"]["id"]
            result.handed.setdefault(item, set()).add(uid)
            result.holders.setdefault(asg, set()).add(uid)
            submit_url = f"{base}/api/tasks/{asg}/submit/"
            data = _ANSWERS[rng.randrange(len(_ANSWERS))]
            async with session.post(submit_url, data=data, headers=post_headers) as resp:
                await resp.read()
                status = resp.status
            t2 = time.perf_counter()
            result.requests.append((t1, t2, "submit", status))
        except (TimeoutError, aiohttp.ClientError) as exc:
            result.requests.append((sent_at, time.perf_counter(), "error", 0))
            result.error(type(exc).__name__)
            await asyncio.sleep(0.05)
            continue
        if 200 <= status < 300:
            result.submitted.append((asg, uid, item))
        else:
            result.error(f"submit {status}")
        # Counted by completion time: under heavy load one iteration can outlast the window.
        if t_measure <= t2 <= t_end:
            result.iterations += 1
            result.latencies_ms.append((t2 - t0) * 1000)
            result.next_ms.append((t1 - t0) * 1000)
            result.submit_ms.append((t2 - t1) * 1000)
        if think_s:
            # A person looks at the image before the next request; jittered so that the
            # annotators do not fall into step with each other.
            await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))


async def _run(
    base: str,
    project_id: int,
    users: list[dict],
    warmup_s: float,
    seconds: float,
    think_s: float,
) -> LoadResult:
    result = LoadResult(annotators=len(users), seconds=seconds)
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        t_measure, t_end = start + warmup_s, start + warmup_s + seconds
        await asyncio.gather(
            *(
                _annotator(
                    session,
                    base,
                    project_id,
                    u,
                    t_measure,
                    t_end,
                    result,
                    random.Random(i),
                    think_s,
                )
                for i, u in enumerate(users)
            )
        )
    return result


def run_load(
    *,
    base: str,
    project_id: int,
    users: list[dict],
    warmup_s: float,
    seconds: float,
    think_s: float = 0.0,
) -> LoadResult:
    """Run ``len(users)`` annotators against the server at ``base`` for warm-up + seconds.

    With ``think_s`` 0 (the default) each annotator asks again at once: a closed loop, so
    by Little's law the mean latency is N / throughput."""
    return asyncio.run(_run(base, project_id, users, warmup_s, seconds, think_s))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]
