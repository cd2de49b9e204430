"""The benchmark: the service under load on loopback, beside the floor of its stack and a FastAPI baseline.

    python -m tests.perf.bench            # the full run, under ~10 minutes
    python -m tests.perf.bench --quick    # under a minute
    python -m tests.perf.bench --http h11 --loop asyncio   # uvicorn's pure-Python parser and loop
    python -m tests.perf.bench --profile miss   # py-spy the service through one scenario

Every server runs under uvicorn in a process of its own; the fake OpenAI and
the fake Qdrant (tests/perf/upstreams.py) run in two more, with a latency the
benchmark sets per scenario; the database is the real PostgreSQL (DATABASE_URL
or 127.0.0.1:5432, a fresh database each run, else a throwaway cluster); the
driver (tests/perf/driver.py) runs in another. Each scenario is run for a few
rounds and the median round is reported. It prints one table and writes
bench-<mode>.json in the artifacts folder (tests/artifacts.py).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

from attrs import asdict, frozen

from tests.artifacts import ARTIFACTS
from tests.perf.book import QUESTION
from tests.perf.upstreams import Upstream

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = ARTIFACTS / "perf"
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"


@frozen
class Plan:
    """How hard and how long: the full run, the quick one, or the smoke test's tiny one."""

    rounds: int = 3
    warmup: float = 1.0
    duration: float = 4.0
    connections: int = 64
    model_latency: float = 1.0  # seconds before the model answers, in the crowd and stream scenarios
    crowd: int = 1000  # clients at once against that model
    burst: int = 300  # questions arriving at once, one each, against that model
    crowd_warmup: float = 2.5
    crowd_duration: float = 6.0
    stream_clients: int = 100
    timeout: float = 10.0
    quiet_wait: float = 4.0  # seconds a round may wait for other work on the machine to calm down
    drain_wait: float = 30.0  # seconds a round may wait for the server to finish what the last one left
    chunks: int = 5000  # the generated book for ingestion
    book_chunks: int = 1000  # the generated book the embedded engine serves
    max_requests: int = 2_000_000


PLANS = {
    "full": Plan(),
    "quick": Plan(rounds=1, warmup=0.3, duration=1.0, crowd=200, burst=300, crowd_warmup=1.0, crowd_duration=1.5,
                  stream_clients=50, timeout=4.0, quiet_wait=0.0, drain_wait=2.0, chunks=300, book_chunks=300),
    # No warm-up: every answer counts, however slow a busy machine makes it (the smoke test needs one of each).
    "smoke": Plan(rounds=1, warmup=0.0, duration=0.4, connections=4, model_latency=0.05, crowd=8, burst=8, crowd_warmup=0.0,
                  crowd_duration=0.4, stream_clients=4, timeout=5.0, quiet_wait=0.0, drain_wait=0.0, chunks=60,
                  max_requests=20_000, book_chunks=60),
}


@frozen
class Scenario:
    name: str
    what: str
    method: str = "GET"
    path: str = "/health"
    body: dict | None = None
    connections: int = 64
    stream: bool = False
    latency: dict | float = 0.0  # of the fake OpenAI
    token_delay: float = 0.0
    warmup: float = 1.0
    duration: float = 5.0
    unique: bool = False  # a question no other request asked: a cache miss
    once: bool = False  # a burst: each connection asks once, all at once
    polite: bool = False  # a client told 503 with Retry-After waits that long, as the widget tells its reader to


def scenarios(plan: Plan) -> list[Scenario]:
    base = {"warmup": plan.warmup, "duration": plan.duration, "connections": plan.connections}
    miss = {"query": f"{QUESTION} {{nonce}}-{{n}}"}
    return [
        Scenario("health", "GET /health", **base),
        Scenario("hit", "POST /v1/query, cache hit", "POST", "/v1/query", {"query": QUESTION}, **base),
        Scenario("miss", "POST /v1/query, miss, instant upstreams", "POST", "/v1/query", miss, unique=True, **base),
        Scenario(
            "crowd", f"POST /v1/query, miss, {plan.model_latency:g} s model, {plan.crowd} clients", "POST", "/v1/query",
            miss, connections=plan.crowd, latency={"chat/completions": plan.model_latency}, warmup=plan.crowd_warmup,
            duration=plan.crowd_duration, unique=True, polite=True,
        ),
        Scenario(
            "burst", f"POST /v1/query, miss, {plan.model_latency:g} s model, {plan.burst} at once", "POST", "/v1/query",
            miss, connections=plan.burst, latency={"chat/completions": plan.model_latency}, unique=True, once=True,
        ),
        Scenario(
            "stream", f"POST /v1/query stream, miss, {plan.model_latency:g} s model", "POST", "/v1/query",
            {**miss, "stream": True}, connections=plan.stream_clients, stream=True,
            latency={"chat/completions": plan.model_latency}, token_delay=0.01,
            warmup=plan.crowd_warmup, duration=plan.crowd_duration, unique=True,
        ),
        Scenario(
            "feedback", "POST /v1/feedback (PostgreSQL)", "POST", "/v1/feedback",
            {"answer_id": "ans_{nonce}{n}", "rating": 1}, unique=True, **base,
        ),
    ]


# Processes

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """An ASGI app under uvicorn on loopback, in its own process."""

    def __init__(self, name: str, app: str, env: dict, args, log_dir: Path, wait: bool = True):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port),
            "--http", args.http, "--loop", args.loop, "--backlog", "4096", "--no-access-log",
            "--log-level", "warning", "--timeout-keep-alive", "30",
        ]
        self._log = open(log_dir / f"{name}.log", "wb")
        self.process = subprocess.Popen(command, cwd=REPO, env={**_clean_environ(), **env}, stdout=self._log, stderr=subprocess.STDOUT)
        if wait:
            self.wait()

    def wait(self, timeout: float = 60.0) -> "Server":
        """Return once the server accepts connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see its log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start within {timeout:g} s")

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        """One request, outside the measurements: to warm a cache or check an answer."""
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def _clean_environ() -> dict:
    prefixes = ("OPENAI_", "QDRANT_", "DATABASE_", "API_KEYS", "ADMIN_API_KEY", "FLOOR_")
    return {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}


def _ticks(pid: int) -> float:
    """CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy() -> float:
    """CPU seconds the whole machine has been busy, every core added up."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _wait_for_quiet(most: float, cores: float = 0.5, sample: float = 0.5) -> float:
    """Wait, at most `most` seconds, until the rest of the machine uses under `cores`; return how long it took."""
    started = time.monotonic()
    while True:
        busy = _busy()
        time.sleep(sample)
        if (_busy() - busy) / sample < cores or time.monotonic() - started >= most:
            return round(time.monotonic() - started, 1)


def _wait_for_idle(pid: int, most: float, sample: float = 0.5) -> float:
    """Wait, at most `most` seconds, until a server has finished the work a previous round left it."""
    started = time.monotonic()
    while time.monotonic() - started < most:
        spent = _ticks(pid)
        time.sleep(sample)
        if (_ticks(pid) - spent) / sample < 0.05:
            break
    return round(time.monotonic() - started, 1)


def _reset_peak_rss(pid: int | str = "self") -> bool:
    """Start a new peak (VmHWM) from the process's resident memory now; False where the kernel won't."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory (VmHWM) since it started or was last reset; this one's by default."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# Measuring

def drive(spec: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.perf.driver"], input=json.dumps(spec), capture_output=True, text=True,
        cwd=REPO, timeout=spec["warmup"] + spec["duration"] + spec["timeout"] + 60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the driver failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def measure(server: Server, scenario: Scenario, plan: Plan, upstreams: list[Upstream], profile: Path | None = None) -> dict:
    """Run a scenario's rounds against a server; the median round, and every round, in a dict."""
    for upstream in upstreams:
        upstream.tell(latency=scenario.latency if upstream.kind == "openai" else 0.0, token_delay=scenario.token_delay)
    _reset_peak_rss(server.process.pid)
    rounds = []
    for index in range(plan.rounds):
        body = json.dumps(scenario.body) if scenario.body is not None else None
        if body is not None and scenario.unique:
            body = body.replace("{nonce}", uuid.uuid4().hex[:8])
        spec = {
            "url": server.url, "method": scenario.method, "path": scenario.path, "body": body,
            "headers": {"Content-Type": "application/json"} if body is not None else {},
            "connections": scenario.connections, "warmup": scenario.warmup, "duration": scenario.duration,
            "timeout": plan.timeout, "stream": scenario.stream, "max_requests": plan.max_requests, "once": scenario.once,
            "retry_after": scenario.polite,
        }
        # A round after an overload must not pay for its backlog (a thread pool's queue, say).
        drained = _wait_for_idle(server.process.pid, plan.drain_wait) if plan.drain_wait else 0.0
        waited = _wait_for_quiet(plan.quiet_wait) if plan.quiet_wait else 0.0
        cpu = {"server": _ticks(server.process.pid), **{u.kind: _ticks(u.process.pid) for u in upstreams}}
        busy = _busy()
        spy = _start_profile(server, scenario, profile) if profile is not None and index == 0 else None
        started = time.monotonic()
        result = drive(spec)
        elapsed = time.monotonic() - started
        result["seconds"] = round(elapsed, 1)
        if spy is not None:
            _finish_profile(spy, profile)
        server_seconds = _ticks(server.process.pid) - cpu["server"]
        # CPU time per request: unlike req/s, it hardly moves when other work shares the machine.
        result["cpu_ms_per_request"] = round(server_seconds / result["sent"] * 1000, 3) if result["sent"] else None
        result["cpu"] = {
            "server": round(server_seconds / elapsed, 2),
            **{u.kind: round((_ticks(u.process.pid) - cpu[u.kind]) / elapsed, 2) for u in upstreams},
            "machine": round((_busy() - busy) / elapsed, 2),
        }
        # What the rest of the machine did meanwhile (other people's work on a shared box): noise to report.
        ours = sum(value for key, value in result["cpu"].items() if key != "machine") + (result["driver_cpu"] or 0.0)
        result["cpu"]["others"] = round(max(0.0, result["cpu"]["machine"] - ours), 2)
        result["waited_for_quiet"], result["waited_for_idle"] = waited, drained
        rounds.append(result)
    return _summary({"scenario": scenario.name, "what": scenario.what, "system": server.name,
                     "connections": scenario.connections, "peak_rss_mb": _peak_rss_mb(server.process.pid)}, rounds)


def _merge(measured: list[dict]) -> dict:
    """One result from several measurements of the same thing: every round counts."""
    first = measured[0]
    head = {key: first[key] for key in ("scenario", "what", "system", "connections")}
    head["peak_rss_mb"] = max(result["peak_rss_mb"] for result in measured)
    return _summary(head, [round_ for result in measured for round_ in result["rounds"]])


def _summary(head: dict, rounds: list[dict]) -> dict:
    median = {}
    for key in ("rps", "p50_ms", "p99_ms", "first_event_p50_ms", "first_event_p99_ms", "driver_cpu", "wall_ms"):
        values = [r[key] for r in rounds if r.get(key) is not None]
        median[key] = round(statistics.median(values), 2) if values else None
    median["server_cpu"] = statistics.median(r["cpu"]["server"] for r in rounds)
    spent = [r["cpu_ms_per_request"] for r in rounds if r["cpu_ms_per_request"] is not None]
    median["cpu_ms_per_request"] = round(statistics.median(spent), 3) if spent else None
    median["others_cpu"] = round(statistics.median(r["cpu"]["others"] for r in rounds), 2)
    median["errors"] = sum(r["errors"] for r in rounds)
    median["requests"] = sum(r["requests"] for r in rounds)
    return {**head, **median, "rounds": rounds}


def _start_profile(server: Server, scenario: Scenario, folder: Path):
    if shutil.which("py-spy") is None:
        print("py-spy is not installed (pip install py-spy); no profile", file=sys.stderr)
        return None
    folder.mkdir(parents=True, exist_ok=True)
    seconds = int(scenario.warmup + scenario.duration)
    output = folder / f"{server.name}-{scenario.name}.txt"
    command = ["py-spy", "record", "--pid", str(server.process.pid), "--duration", str(seconds), "--rate", "1000",
               "--format", "raw", "--output", str(output), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), output


def _finish_profile(spy, folder: Path) -> None:
    process, output = spy
    process.wait(60)
    if output.exists():
        summary = summarise_profile(output)
        output.with_suffix(".summary.txt").write_text(summary)
        print(summary)


def summarise_profile(path: Path, top: int = 20) -> str:
    """py-spy's collapsed stacks as three lists: self time by package (or by our own file), by function, and inclusive."""
    by_package, own, inclusive, total = {}, {}, {}, 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        count = int(count)
        total += count
        frames = stack.split(";")
        names = [_frame(frame) for frame in frames]
        package = _package(frames[-1])
        by_package[package] = by_package.get(package, 0) + count
        own[names[-1]] = own.get(names[-1], 0) + count
        for name in set(names):
            inclusive[name] = inclusive.get(name, 0) + count
    lines = [f"{path.name}: {total} samples"]
    for title, table in (("self time by package:", by_package), ("self time:", own), ("inclusive:", inclusive)):
        lines.append(title)
        lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in sorted(table.items(), key=lambda item: -item[1])[:top]]
    return "\n".join(lines)


def _frame(frame: str) -> str:
    """'function (path/to/module.py:12)' as 'function module.py:12'."""
    function, _, where = frame.partition(" (")
    return f"{function} {where.rstrip(')').split('/')[-1]}"


def _package(frame: str) -> str:
    """Where a frame's code lives: a package, a standard module, or our own file."""
    where = frame.partition(" (")[2].rstrip(")").rsplit(":", 1)[0]
    if where.startswith(("lib/", "handlers/", "router.py", "tests/")):
        return where
    return where.split("/")[0].removesuffix(".py")


# The database

@contextlib.contextmanager
def databases(count: int, server: str) -> Iterator[list[str]]:
    """Fresh databases on the server of `server` (a URL), else on a throwaway cluster."""
    from tests.pg import Cluster, fresh_database

    cluster = None
    try:
        with fresh_database(server):
            pass
    except Exception:
        cluster = Cluster()
        server = cluster.url
    try:
        with contextlib.ExitStack() as stack:
            yield [stack.enter_context(fresh_database(server)) for _ in range(count)]
    finally:
        if cluster is not None:
            cluster.close()


# The run

def run(
    plan: Plan, args, log_dir: Path, only: set[str] | None = None, database: str = DEFAULT_DATABASE,
    systems: tuple[str, ...] = ("bookbot", "bookbot-qdrant", "fastapi"),
) -> dict:
    """Every scenario against every system, then ingestion; the results as one dict."""
    results: list[dict] = []
    answer_log = None
    started = time.monotonic()
    data = Path(tempfile.mkdtemp(prefix="bench-"))
    upstreams = [Upstream("openai", args.dimensions, log_dir / "openai.log"), Upstream("qdrant", args.dimensions, log_dir / "qdrant.log")]
    openai, qdrant = upstreams
    try:
        with databases(3, database) as (ours_db, server_db, theirs_db):
            env = {
                "OPENAI_BASE_URL": openai.url, "INDEX_ON_START": "false", "DATA_DIR": str(data), "LOG_LEVEL": "INFO",
                "EMBEDDINGS": "openai",
                # The generated book and the fake model's embeddings are no test of refusals: every question is answered.
                "SIMILARITY_THRESHOLD": "0",
                # One load-generating client would hit the per-client limits at once: they are measured elsewhere.
                "RATE_LIMIT_PER_MINUTE": "0", "RATE_LIMIT_PER_DAY": "0", "DAILY_TOKEN_BUDGET": "0",
            }
            chosen = [s for s in scenarios(plan) if not only or s.name in only]
            if "bookbot" in systems:  # the default: the embedded engine, over a generated book in DATA_DIR
                _index_book(data, plan.book_chunks, args.dimensions)
            # The same service with a Qdrant server (the fake one), and the FastAPI way, which uses a server too.
            server_env = {"QDRANT_URL": qdrant.url}
            servers = {
                name: Server(name, app, {**env, **extra, "DATABASE_URL": database}, args, log_dir, wait=False)
                for name, app, extra, database in (
                    ("bookbot", "router:app", {}, ours_db),
                    ("bookbot-qdrant", "router:app", server_env, server_db),
                    ("fastapi", "tests.perf.fastapi_app:app", server_env, theirs_db),
                )
                if name in systems
            }
            try:
                for server in servers.values():  # started together, waited for in turn
                    server.wait()
                hit_size = 0
                for server in servers.values():
                    status, body = server.request("POST", "/v1/query", {"query": QUESTION})  # warms the answer cache
                    # A refusal is a 200 too, but measures far less work than an answer.
                    if status != 200 or not json.loads(body).get("answerable"):
                        raise RuntimeError(f"{server.name} could not answer: {status} {body[:300]!r}")
                    hit_size = hit_size or len(body)
                floor = Server("floor", "tests.perf.floor_app:app", {"FLOOR_BYTES": str(hit_size)}, args, log_dir)
                floor_scenario = Scenario("floor", f"bare ASGI, {hit_size} B of JSON", "POST", "/v1/query",
                                          {"query": QUESTION}, warmup=plan.warmup, duration=plan.duration,
                                          connections=plan.connections)
                try:
                    # The floor is measured before and after the rest, so that a busy spell of the machine
                    # weighs on both sides of the ratios alike.
                    floors = [measure(floor, floor_scenario, plan, upstreams)]
                    for server in servers.values():
                        for scenario in chosen:
                            if server.name == "bookbot-qdrant" and scenario.name not in SERVER_PATH:
                                continue
                            profile = log_dir / "profiles" if args.profile in (scenario.name, "all") else None
                            results.append(measure(server, scenario, plan, upstreams, profile))
                            _say(results[-1])
                        if server.name == "bookbot":
                            answer_log = _answer_log(server)
                    floors.append(measure(floor, floor_scenario, plan, upstreams))
                    results.append(_merge(floors))
                    _say(results[-1])
                finally:
                    floor.close()
            finally:
                for server in servers.values():
                    server.close()
        openai.tell(latency={"embeddings": 0.1})
        ingestion = None if only and "ingest" not in only else ingest(plan.chunks, openai.url, log_dir)
    finally:
        for upstream in upstreams:
            upstream.close()
        shutil.rmtree(data, ignore_errors=True)
    return {
        "plan": asdict(plan),
        "server": {"http": args.http, "loop": args.loop, "dimensions": args.dimensions},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "seconds": round(time.monotonic() - started, 1),
        "results": results,
        "answer_log": answer_log,
        "ingestion": ingestion,
    }


SERVER_PATH = ("hit", "miss")  # what the bookbot-qdrant system is measured on


def _index_book(data: Path, chunks: int, dimensions: int) -> None:
    """A generated book in DATA_DIR's embedded collection, with the fake model's embeddings (computed here)."""
    import asyncio

    from lib.config import Config
    from tests.perf import engine
    from tests.perf.book import write_book

    config = Config(data_dir=data, embeddings="none", index_on_start=False)
    asyncio.run(engine._index(config, write_book(data.parent / f"{data.name}-book", chunks), dimensions))


def _answer_log(server: Server) -> dict | None:
    """The service's answer log counters, from /health once its cached report has expired."""
    time.sleep(5.5)
    status, body = server.request("GET", "/health")
    return json.loads(body).get("answer_log") if body else None


def ingest(chunks: int, openai_url: str, log_dir: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.perf.ingest", "--chunks", str(chunks), "--openai-url", openai_url],
        capture_output=True, text=True, cwd=REPO, env=_clean_environ(), timeout=600,
    )
    (log_dir / "ingest.log").write_text(done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"ingestion failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _say(result: dict) -> None:
    took = sum(r["seconds"] + r["waited_for_quiet"] + r["waited_for_idle"] for r in result["rounds"])
    print(f"  {result['system']:8} {result['scenario']:9} {result['rps'] or 0:9.1f} req/s  p50 {result['p50_ms']} ms  "
          f"p99 {result['p99_ms']} ms  errors {result['errors']}  ({took:.1f} s)", file=sys.stderr, flush=True)


# The table

def table(report: dict) -> str:
    """One table: each scenario, ours beside the baseline, with the ratios the targets are about."""
    by = {(r["system"], r["scenario"]): r for r in report["results"]}
    floor = by.get(("floor", "floor"))
    latency = report["plan"]["model_latency"]
    rows = [("scenario", "system", "conns", "req/s", "p50 ms", "p99 ms", "1st event p50/p99 ms", "errors", "peak RSS MB", "CPU ms/req", "others' cores", "ratio", "target")]
    if floor:
        rows.append(("floor: " + floor["what"], "bare ASGI", floor["connections"], _n(floor["rps"]), floor["p50_ms"],
                     floor["p99_ms"], "", floor["errors"], floor["peak_rss_mb"], floor["cpu_ms_per_request"], floor["others_cpu"], "1.00 of floor", ""))
    for scenario in [s for s in ("health", "hit", "miss", "burst", "crowd", "stream", "feedback") if ("bookbot", s) in by]:
        ours, theirs = by[("bookbot", scenario)], by.get(("fastapi", scenario))
        for result in (ours, by.get(("bookbot-qdrant", scenario)), theirs):
            if result is None:
                continue
            ratio, target = _judge(scenario, result, floor, latency, theirs if result is not theirs else None)
            first = f"{result['first_event_p50_ms']} / {result['first_event_p99_ms']}" if result["first_event_p50_ms"] is not None else ""
            rows.append((result["what"] if result is ours else "", result["system"], result["connections"], _n(result["rps"]),
                         result["p50_ms"], result["p99_ms"], first, result["errors"], result["peak_rss_mb"],
                         result["cpu_ms_per_request"], result["others_cpu"], ratio, target))
    ingestion = report.get("ingestion")
    lines = _grid(rows)
    answer_log = report.get("answer_log")
    if answer_log:
        lines.append(
            f"answer log (PostgreSQL): {answer_log['answers_logged']:,} answers written, "
            f"{answer_log['answers_dropped']:,} dropped because it fell behind, {answer_log['answer_log_failures']:,} failed"
        )
    if ingestion:
        lines.append(
            f"ingestion: {ingestion['chunks']} chunks, {ingestion['pages']} pages, embeddings 100 ms per batch of "
            f"{ingestion['embed_batch']} ({ingestion['embed_in_flight']} in flight): read+chunk {ingestion['read_seconds']} s, "
            f"index {ingestion['index_seconds']} s = {ingestion['chunks_per_second']} chunks/s; "
            f"peak RSS {ingestion['peak_rss_mb']} MB; unchanged re-run {ingestion['rerun_seconds']} s, "
            f"peak RSS {ingestion['rerun_peak_rss_mb']} MB (same process)"
        )
    server = report["server"]
    lines.append(f"uvicorn --http {server['http']} --loop {server['loop']}; {server['dimensions']}-dimension embeddings; "
                 f"{report['machine']['cpus']} CPUs; median of {report['plan']['rounds']} rounds; run took {report['seconds']} s")
    return "\n".join(lines)


def _judge(scenario: str, result: dict, floor: dict | None, latency: float, theirs: dict | None) -> tuple[str, str]:
    parts, verdicts = [], []
    rps = result["rps"] or 0.0
    ours = result["system"].startswith("bookbot")
    if scenario in ("hit", "miss") and floor and floor["rps"]:
        share = rps / floor["rps"]
        parts.append(f"{share:.2f} of floor")
        if result["cpu_ms_per_request"] and floor["cpu_ms_per_request"]:
            parts.append(f"{floor['cpu_ms_per_request'] / result['cpu_ms_per_request']:.2f} by CPU")
        if ours and scenario == "hit":
            verdicts.append(f"≥0.5 of floor {'met' if share >= 0.5 else 'MISSED'}")
    if ours and scenario == "miss":
        spent = result["cpu_ms_per_request"] or 1e9
        verdicts.append(f"≤4 ms CPU {'met' if spent <= 4 else 'MISSED'}")
    if scenario == "burst":
        answered = int(result["rounds"][0]["statuses"].get("200", 0)) if result["rounds"] else 0
        wall = result["wall_ms"] or 0
        parts.append(f"{answered}/{result['connections']} answered in {wall / 1000:.2f} s")
        if ours:
            ok = answered == result["connections"] and wall <= 2500 and (result["p99_ms"] or 1e9) <= 2500
            verdicts.append("all 200, wall ≤2.5 s, p99 ≤2.5 s " + ("met" if ok else "MISSED"))
    if scenario == "crowd":
        share = rps / (result["connections"] / latency)
        parts.append(f"{share:.2f} of ideal")
        if ours:
            shed = sum(r["error_kinds"].get("http 503", 0) for r in result["rounds"])
            parts.append(f"{shed:,} × 503")
            ok = result["errors"] == shed
            verdicts.append("no error but 503 + Retry-After " + ("met" if ok else "MISSED"))
    if theirs is not None and theirs["rps"]:
        parts.append(f"{rps / theirs['rps']:.1f}x fastapi")
    return ", ".join(parts), "; ".join(verdicts)


def _n(value) -> str:
    return f"{value:,.0f}" if value is not None else ""


def _grid(rows: list[tuple]) -> list[str]:
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    def line(row):
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |"
    return [line(cells[0]), "|" + "|".join("-" * (width + 2) for width in widths) + "|", *map(line, cells[1:])]


def _installed(module: str, otherwise: str) -> str:
    return module if importlib.util.find_spec(module) else otherwise


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round of everything, under a minute")
    parser.add_argument("--http", default="h11", choices=("h11", "httptools"),
                        help="uvicorn's HTTP parser for every server (default: h11, as router.py serves)")
    parser.add_argument("--loop", default=_installed("uvloop", "asyncio"), choices=("asyncio", "uvloop"),
                        help="uvicorn's event loop for every server (default: what uvicorn picks, uvloop when installed)")
    parser.add_argument("--dimensions", type=int, default=1536, help="of the fake embeddings (text-embedding-3-small: 1536)")
    parser.add_argument("--profile", metavar="SCENARIO", help="py-spy the service through a scenario's first round (or: all)")
    parser.add_argument("--only", help="comma-separated scenarios (health,hit,miss,burst,crowd,stream,feedback,ingest)")
    parser.add_argument("--systems", default="bookbot,bookbot-qdrant,fastapi",
                        help="comma-separated: bookbot (the embedded engine), bookbot-qdrant (a Qdrant server), fastapi")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    log_dir = ARTIFACTS / f"logs-{mode}"
    log_dir.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    database = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE
    report = run(PLANS[mode], args, log_dir, only, database, tuple(args.systems.split(",")))
    report["command"] = "python -m tests.perf.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    text = table(report)
    print(text)
    path = ARTIFACTS / f"bench-{mode}.json"
    path.write_text(json.dumps({**report, "table": text}, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
