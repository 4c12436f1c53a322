"""The webhook under a real server: gunicorn on 127.0.0.1, driven by wrk, beside a bare view.

For SQLite and, when it answers, PostgreSQL, each in a child process of its own:

1. ack: gunicorn (2 workers x 4 threads, or --workers and --threads) serves the site with
   processing elsewhere (the dispatch seam only counts, as on Lambda where processing is
   another invocation). wrk drives a bare view (/bench/bare/, bench/load_urls.py: bench
   only) and then the webhook with a realistic mix of signed deliveries, at 1, 16 and 64
   connections, a fixed duration each: mentions with photos, text-only mentions, the bot's
   own posts, redeliveries, ignored event kinds.
   With --floors, then the same at 1 and 16 connections with the webhook stopped short of its
   transaction (bench/load_urls.py, BENCH_FLOOR): "parsed" writes nothing, "delivery" only
   the Delivery's row, in one INSERT that commits by itself. How near the bare view the
   answer could come with no write at all, and with the least write that keeps what came.
2. backlog: the tables emptied, gunicorn again with `make run`'s thread dispatch and real,
   offline processing: photos from the local media server (tests/fixtures/media_server.py),
   recognised by the local recogniser (IMAGEBOT_RECOGNISER=local, the ONNX models), replies
   posted to the local fake X (tests/fixtures/fake_x.py). A burst of deliveries at 16
   connections; then how long until every tweet is final, with the sweeper run every
   second as cron would (work the bounded queue turned away waits in the database for it).

Prints JSON: per case throughput, p50/p99, errors, gunicorn's processor time per request
(steadier than throughput on a machine others share; with PostgreSQL on this machine, its
processes' time per request too: they share the cores) and the ratios to the bare view (run
before and after the webhook; each ratio is to the better figure of the two runs); the
backlog's drain time, every tweet's final state and every reply posted once.
Needs wrk (`make bench` installs the Debian package). Run: .venv/bin/python bench/load.py
[--seconds 4] [--burst 240] [--workers 2] [--threads 4] [--floors] [--postgres postgres://postgres@127.0.0.1:5432/<name>]
(the bench works in the database <name>_loadbench, made and dropped by it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "load.lua"
CONNECTIONS = (1, 16, 64)
FLOORS = ("parsed", "delivery")  # --floors: bench/load_urls.py's BENCH_FLOOR
FLOOR_CONNECTIONS = (1, 16)
SERVER = {"workers": 2, "threads": 4}  # gunicorn's, as issue 12 measured it; --workers, --threads
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/imagebot"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=4, help="duration of each load case")
    parser.add_argument("--burst", type=int, default=240, help="deliveries in the backlog burst")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--workers", type=int, default=SERVER["workers"], help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=SERVER["threads"], help="gunicorn threads per worker")
    parser.add_argument("--floors", action="store_true", help="also the webhook without its transaction (bench/load_urls.py)")
    parser.add_argument("--database", help=argparse.SUPPRESS)  # a child's own database URL
    args = parser.parse_args()
    SERVER.update(workers=args.workers, threads=args.threads)
    if shutil.which("wrk") is None:
        sys.exit("bench/load.py needs wrk: apt-get install wrk (make bench installs it)")
    if args.database:
        print(json.dumps(run_database(args.database, seconds=args.seconds, burst=args.burst, floors=args.floors)))
        return
    workdir = tempfile.mkdtemp(prefix="imagebot-load-")
    try:
        urls = [f"sqlite:///{workdir}/load.sqlite3"]
        if args.postgres and postgres_reachable(args.postgres):
            urls.append(args.postgres.rsplit("/", 1)[0] + "/" + args.postgres.rsplit("/", 1)[1] + "_loadbench")
        results = []
        for url in urls:
            child = [sys.executable, __file__, "--database", url, "--seconds", str(args.seconds), "--burst", str(args.burst)]
            child += ["--workers", str(args.workers), "--threads", str(args.threads)] + (["--floors"] if args.floors else [])
            out = subprocess.run(child, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if len(urls) == 1:
            results.append({"database": "postgresql", "skipped": f"not reachable at {args.postgres}" if args.postgres else "not asked for"})
        server = f"gunicorn {args.workers} workers x {args.threads} threads"
        print(json.dumps({"benchmark": "load", "server": server, "results": results}, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def postgres_reachable(url: str) -> bool:
    host_port = url.split("@", 1)[-1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port or 5432)), timeout=1).close()
    except OSError:
        return False
    return True


# --- One database, in a child process --------------------------------------------------


def run_database(url: str, *, seconds: int, burst: int, floors: bool = False) -> dict:
    sys.path.insert(0, str(ROOT))
    workdir = tempfile.mkdtemp(prefix="imagebot-load-")
    env = {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "bench.load_settings",
        "DJANGO_DEBUG": "false",
        "IMAGEBOT_LOG_LEVEL": "WARNING",
        "IMAGEBOT_MEDIA_ROOT": f"{workdir}/media",
        "IMAGEBOT_RECOGNISER": "local",
        "IMAGEBOT_SWEEP_AFTER_SECONDS": "10",
    }
    for name in ("DJANGO_ALLOWED_HOSTS", "DJANGO_SECRET_KEY", "AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL", "X_DRY_RUN"):
        os.environ.pop(name, None)
    os.environ.update(env)
    postgres = url.startswith("postgres")
    if postgres:
        _postgres_database(url, create=True)
    from tests.fixtures.fake_x import start_fake_x
    from tests.fixtures.media_server import MediaServer, make_image_bytes

    x_server = start_fake_x()
    x_server.fake.limit_posts(10_000, window=900)  # X's rate-limit headers on every answer, a window never spent here
    media = MediaServer()
    media.start()
    os.environ.update(x_server.environ())
    os.environ.update(media.environ())
    photos = [media.serve_image(f"/photo-{color}.jpg", make_image_bytes(color=color)) for color in ("red", "green", "blue", "white")]
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        connection.close()
        result: dict = {"database": "postgresql" if postgres else "sqlite"}
        result["ack"] = _ack_cases(workdir, photos, seconds=seconds)
        if floors:
            result["floors"] = {
                floor: _ack_cases(workdir, photos, seconds=seconds, floor=floor, connections_each=FLOOR_CONNECTIONS) for floor in FLOORS
            }
        call_command("flush", interactive=False, verbosity=0)
        connection.close()
        result["backlog"] = _backlog(workdir, photos, burst=burst, fake_x=x_server.fake)
        return result
    finally:
        x_server.stop()
        media.stop()
        from django.db import connections

        connections.close_all()
        if postgres:
            _postgres_database(url, create=False)
        shutil.rmtree(workdir, ignore_errors=True)


def _postgres_database(url: str, *, create: bool) -> None:
    import psycopg2

    base, name = url.rsplit("/", 1)
    admin = psycopg2.connect(base + "/postgres")
    admin.autocommit = True  # DROP and CREATE DATABASE cannot run inside a transaction
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()  # psycopg2's `with connection` ends a transaction, it does not close


def _ack_cases(
    workdir: str, photos: list[str], *, seconds: int, floor: str = "", connections_each: tuple[int, ...] = CONNECTIONS
) -> list[dict]:
    cases = []
    with Gunicorn(processing="elsewhere", floor=floor) as server:
        bare_file = _requests_file(workdir, "bare", [("GET", "/bench/bare/", "-", "")])
        for connections in connections_each:
            bare = server.wrk(bare_file, connections=connections, seconds=seconds)
            # Enough distinct deliveries that wrk rarely runs out (then it starts over: redeliveries).
            mixed = _requests_file(workdir, f"mix-{connections}", mix(int(bare["requests_per_s"] * seconds * 0.8) + 500, photos))
            hook = server.wrk(mixed, connections=connections, seconds=seconds)
            # The bare view again after the webhook, and each ratio to the better figure of its
            # two runs: one the machine slowed (PostgreSQL's background work after a burst of
            # writes, another program) would flatter the webhook.
            bare_after = server.wrk(bare_file, connections=connections, seconds=seconds)
            fastest = max(bare["requests_per_s"], bare_after["requests_per_s"])
            quickest = min(bare["p50_ms"], bare_after["p50_ms"])
            cheapest = min(bare["server_cpu_ms_per_request"], bare_after["server_cpu_ms_per_request"])
            cases.append(
                {
                    "connections": connections,
                    "bare": bare,
                    "webhook": hook,
                    "bare_after": bare_after,
                    "throughput_ratio": round(hook["requests_per_s"] / fastest, 3),
                    "p50_ratio": round(hook["p50_ms"] / quickest, 2),
                    "server_cpu_ratio": round(hook["server_cpu_ms_per_request"] / cheapest, 2),
                }
            )
    return cases


def _backlog(workdir: str, photos: list[str], *, burst: int, fake_x) -> dict:
    from django.db import connection

    from bot import services
    from bot.models import Reply, Tweet

    deliveries = mix(burst, photos)
    with Gunicorn(processing="thread") as server:
        os.environ["IMAGEBOT_DISPATCH"] = "inline"  # the sweeper runs here, as `manage.py sweep` would
        started = time.monotonic()
        ack = burst_send(server.port, deliveries, connections=16)
        sweeps = Counter()
        while True:
            if not Tweet.objects.filter(status__in=Tweet.PENDING_STATUSES).exists():
                break
            if time.monotonic() - started > 180:
                break
            time.sleep(1)
            for key, value in services.sweep().items():
                sweeps[key] += value
        drained = time.monotonic() - started
        statuses = Counter(Tweet.objects.values_list("status", flat=True))
        replies = Counter(Reply.objects.values_list("status", flat=True))
        posted_to = [(post.get("reply") or {}).get("in_reply_to_tweet_id") for post in fake_x.posts()]
        answered = set(Tweet.objects.filter(status=Tweet.Status.DONE, reply__status=Reply.Status.POSTED).values_list("x_id", flat=True))
        connection.close()
    return {
        "deliveries": burst,
        "tweets_recorded": sum(statuses.values()),
        "ack": ack,
        "drain_s": round(drained, 2),
        "tweet_statuses": dict(statuses),
        "reply_statuses": dict(replies),
        "every_tweet_final": not any(statuses[s] for s in Tweet.PENDING_STATUSES),
        "replies_posted_to_x": len(posted_to),
        "each_answered_once": sorted(posted_to) == sorted(answered) and len(set(posted_to)) == len(posted_to),
        "sweeper": dict(sweeps),
        "recogniser": "local (onnxruntime, the ImageNet and NSFW models of requirements-local.txt)",
    }


# --- The deliveries --------------------------------------------------------------------


def mix(n: int, photos: list[str]) -> list[tuple[str, str, str, str]]:
    """n signed deliveries in a mix like a live bot's: of every 20, 8 mentions with a photo (one in
    four with two), 4 text-only mentions, 3 of the bot's own posts (its replies, delivered back),
    3 redeliveries of an earlier delivery, 2 events the bot ignores (likes, follows)."""
    from bot.events import samples
    from tests.fixtures.fake_x import CONSUMER_SECRET
    from tests.fixtures.webhook import encode, sign

    rng = random.Random(12)  # noqa: S311 - the same mix every run, not a secret
    lines: list[tuple[str, str, str, str]] = []
    sent: list[tuple[str, str, str, str]] = []
    for i in range(n):
        slot = i % 20
        author = {"author_id": str(1_600_000_000_000_000_000 + i), "author_name": f"fan{i}"}
        if slot < 8:
            count = 2 if slot % 4 == 0 else 1
            payload = samples.delivery(samples.tweet(urls=rng.sample(photos, count), **author))
        elif slot < 12:
            payload = samples.delivery(samples.tweet(photos=0, **author))
        elif slot < 15:
            payload = samples.delivery(samples.tweet(photos=0, author_id=samples.BOT_ID, author_name=samples.BOT_NAME, mention_bot=False))
        elif slot < 18 and sent:
            lines.append(rng.choice(sent))
            continue
        else:
            payload = {"for_user_id": samples.BOT_ID, "favorite_events": [{"id": str(i), "favorited_status": {}}]}
        body = encode(payload).decode()
        line = ("POST", "/webhooks/x/", sign(body.encode(), CONSUMER_SECRET), body)
        lines.append(line)
        if slot < 8:
            sent.append(line)
    return lines


def _requests_file(workdir: str, name: str, lines: list[tuple[str, str, str, str]]) -> str:
    path = f"{workdir}/{name}.tsv"
    with open(path, "w") as out:
        for line in lines:
            assert "\n" not in line[3] and "\t" not in line[3]  # JSON escapes both inside strings
            out.write("\t".join(line) + "\n")
    return path


# --- gunicorn and wrk --------------------------------------------------------------------


class Gunicorn:
    """The site under gunicorn on a free port of 127.0.0.1, until the block ends."""

    def __init__(self, *, processing: str, floor: str = "") -> None:
        self.processing = processing
        self.floor = floor  # bench/load_urls.py's BENCH_FLOOR
        self.port = _free_port()

    def __enter__(self) -> Gunicorn:
        # WhiteNoise warns of a static folder never collected: the bench serves no static files.
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore:No directory at", BENCH_FLOOR=self.floor)
        if self.processing == "elsewhere":
            env.update(BENCH_PROCESSING="elsewhere", IMAGEBOT_DISPATCH="thread")
        else:
            env.update(BENCH_PROCESSING="", IMAGEBOT_DISPATCH="thread")
        gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "imagebot_site.wsgi:application"]
        options = ["--bind", f"127.0.0.1:{self.port}", "--workers", str(SERVER["workers"]), "--threads", str(SERVER["threads"])]
        self.process = subprocess.Popen([*gunicorn, *options, "--log-level", "warning"], cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/bench/bare/", timeout=1).read()
                for _ in range(SERVER["workers"] * 4):  # let every worker load the site before measuring
                    urllib.request.urlopen(f"http://127.0.0.1:{self.port}/bench/bare/", timeout=5).read()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("gunicorn exited") from None
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer in 60 s")

    def __exit__(self, *exc_info) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def wrk(self, requests_file: str, *, connections: int, seconds: int) -> dict:
        """wrk's figures, and the processor time gunicorn (its workers) spent per request meanwhile.

        Throughput on a machine shared with others moves with their load; the server's own
        processor time per request moves much less, and says what a request costs. With
        PostgreSQL on this machine, its processes' time too: it shares the cores."""
        postgres = os.environ["DATABASE_URL"].startswith("postgres")
        before, database_before = self.cpu_seconds(), _postgres_cpu_seconds() if postgres else 0.0
        figures = wrk(self.port, requests_file, connections=connections, seconds=seconds)
        spent = self.cpu_seconds() - before
        requests = max(figures["requests"], 1)
        figures["server_cpu_ms_per_request"] = round(spent / requests * 1000, 3)
        if database_before:  # PostgreSQL runs on this machine
            figures["postgres_cpu_ms_per_request"] = round((_postgres_cpu_seconds() - database_before) / requests * 1000, 3)
        return figures

    def cpu_seconds(self) -> float:
        """User and system time of gunicorn and its workers so far (Linux's /proc)."""
        return sum(_cpu_seconds(pid) for pid in (self.process.pid, *_children(self.process.pid)))


def _cpu_seconds(pid: int) -> float:
    """A process's user and system time so far; 0 for one that just exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _postgres_cpu_seconds() -> float:
    """User and system time so far of this machine's PostgreSQL processes (0 when it runs elsewhere)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if command in ("postgres", "postmaster"):
                total += _cpu_seconds(int(entry.name))
    return total


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wrk(port: int, requests_file: str, *, connections: int, seconds: int) -> dict:
    threads = min(connections, 2)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s"]
    command += ["-s", str(LUA), f"http://127.0.0.1:{port}", "--", requests_file, str(threads)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    raw = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    return {
        "connections": connections,
        "requests": raw["requests"],
        "seconds": round(raw["duration_us"] / 1e6, 2),
        "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "errors": sum(raw["errors"].values()),
        "error_kinds": {kind: count for kind, count in raw["errors"].items() if count},
    }


def burst_send(port: int, deliveries: list[tuple[str, str, str, str]], *, connections: int) -> dict:
    """Each delivery once, `connections` at a time (wrk only runs for a duration): the ack's figures."""
    import http.client
    from concurrent.futures import ThreadPoolExecutor

    def send(line: tuple[str, str, str, str]) -> tuple[float, int]:
        method, path, signature, body = line
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start = time.perf_counter()
        connection.request(method, path, body.encode(), {"Content-Type": "application/json", "x-twitter-webhooks-signature": signature})
        status = connection.getresponse().status
        elapsed = time.perf_counter() - start
        connection.close()
        return elapsed * 1000, status

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        answers = list(pool.map(send, deliveries))
    seconds = time.perf_counter() - started
    timings = sorted(ms for ms, _ in answers)
    return {
        "connections": connections,
        "requests": len(answers),
        "seconds": round(seconds, 2),
        "requests_per_s": round(len(answers) / seconds, 1),
        "p50_ms": round(timings[len(timings) // 2], 2),
        "p99_ms": round(timings[int(0.99 * (len(timings) - 1))], 2),
        "max_ms": round(timings[-1], 2),
        "errors": sum(status != 200 for _, status in answers),
    }


if __name__ == "__main__":
    main()
