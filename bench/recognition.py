"""What one photo costs each recogniser backend, through bot.recognition.detect.

local        the real models (requirements-local.txt) on the committed test photos
             (tests/photos/), CPU only, one onnxruntime thread per session
rekognition  a real boto3 client answered in botocore's before-call hook, by operation,
             as botocore's Stubber answers (its queue is one order for all threads, so
             two threads at once would take each other's answers): the cost of our side
             of the call only, no network, no AWS

Each backend runs in a fresh child process, so its load time is a cold start and its peak
RSS is its own. Prints JSON per backend: load seconds (first use: imports, weights read,
graph built, sessions created; for rekognition the client), median and p95 milliseconds
per photo (decode + labels + moderation), the same with two threads recognising at once,
and peak RSS in MiB before and after.
Run: .venv/bin/python bench/recognition.py [--photos N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHOTOS = sorted((HERE.parent / "tests" / "photos").glob("*.jpg"))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(backend: str, count: int) -> dict:
    sys.path.insert(0, str(HERE))
    from common import configure

    configure(IMAGEBOT_RECOGNISER=backend)
    import django

    django.setup()
    from bot import recognition

    rss_before = peak_rss_mib()
    photos = [path.read_bytes() for path in PHOTOS]
    if backend == "rekognition":
        from botocore.awsrequest import AWSResponse

        from tests.fixtures import aws

        os.environ.update(
            aws.FAKE_AWS_ENV, AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent", AWS_EC2_METADATA_DISABLED="true"
        )
        started = time.perf_counter()
        client = recognition.rekognition_client()
        load_seconds = time.perf_counter() - started
        recognition.rekognition_client = lambda: client
        answers = {
            "DetectLabels": aws.labels_response(("Cat", 98.0, ("Animal", "Pet")), ("Animal", 98.0)),
            "DetectModerationLabels": aws.moderation_response(),
        }

        def answer(model, **_) -> tuple[AWSResponse, dict]:
            return AWSResponse("", 200, {}, None), answers[model.name]

        client.meta.events.register_first("before-call.rekognition", answer)
    else:
        from bot.recognition import local

        started = time.perf_counter()
        local.models()
        load_seconds = time.perf_counter() - started

    def one(index: int) -> float:
        image = recognition.image_from_bytes(photos[index % len(photos)])
        started = time.perf_counter()
        recognition.detect(image)
        return (time.perf_counter() - started) * 1000

    one(0)  # warm-up
    serial = [one(i) for i in range(count)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        started = time.perf_counter()
        concurrent = list(pool.map(one, range(count)))
        wall = time.perf_counter() - started
    return {
        "backend": backend,
        "load_seconds": round(load_seconds, 3),
        "photos": count,
        "ms_per_photo_median": round(statistics.median(serial), 2),
        "ms_per_photo_p95": round(percentile(serial, 0.95), 2),
        "two_threads_ms_per_photo_median": round(statistics.median(concurrent), 2),
        "two_threads_photos_per_second": round(count / wall, 1),
        "peak_rss_mib_before_load": round(rss_before, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=200, help="photos per backend (default 200)")
    parser.add_argument("--backend", choices=("local", "rekognition"), help="measure one backend in this process")
    args = parser.parse_args()
    if args.backend:
        print(json.dumps(measure(args.backend, args.photos)))
        return 0
    results = []
    for backend in ("local", "rekognition"):
        child = subprocess.run(
            [sys.executable, __file__, "--backend", backend, "--photos", str(args.photos)], capture_output=True, text=True, check=False
        )
        if child.returncode != 0:
            print(child.stderr, file=sys.stderr)
            return 1
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print(
        json.dumps(
            {"benchmark": "recognition", "cpu_count": os.cpu_count(), "test_photos": [p.name for p in PHOTOS], "results": results}, indent=2
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
