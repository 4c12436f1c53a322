"""The Lambda package: its size, and the cold start of Zappa's handler running it.

Prints JSON: the zipped and unzipped size of the package `zappa package` builds (with
zappa_settings.json's exclusions, from the clean .venv-package `make package` builds),
and the cold start: a fresh interpreter that sees only the unzipped package, as Lambda
runs it (no site-packages), importing zappa.handler and answering a first request (the
CRC GET) through LambdaHandler. The median of --runs fresh processes each, two ways:
- "lambda": no cached bytecode, as on Lambda (the zip carries none: its files have no
  modification time a cached .pyc would match, and /var/task is read-only);
- "cached": with the bytecode a first run wrote, as a warm disk cache on a server would.

The same is measured, in the same run, for --base (a commit, default: the one before
the Lambda work of issue 10), packaged from a git worktree of it with the same venv,
so the ratio compares like with like on a machine whose speed varies.

    make package                       # builds .venv-package, the package and prints its sizes
    .venv-package/bin/python bench/package.py [--runs 7] [--base REV] [--stage dev]
    .venv-package/bin/python bench/package.py --sizes build/imagebot-dev.zip
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.aws_lambda import API_HOST, api_gateway_event

BASE = "236c2a3"  # the last commit before the Lambda package work (issue 10)
MIB = 1024 * 1024
CONSUMER_SECRET = "bench-secret"
GIT = shutil.which("git") or "git"

# Runs in the unzipped package, with nothing else on sys.path: what Lambda's bootstrap does.
CHILD = r"""
import time
started = time.perf_counter()
import json, sys, types
from zappa.handler import lambda_handler
imported = time.perf_counter()
context = types.SimpleNamespace(function_name="imagebot-dev", aws_request_id="bench",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:imagebot-dev",
    get_remaining_time_in_millis=lambda: 30000)
answer = lambda_handler(json.loads(sys.argv[1]), context)
answered = time.perf_counter()
print(json.dumps({"import_s": imported - started, "cold_start_s": answered - started,
    "status": answer["statusCode"], "body": answer["body"],
    "twitter_text": "twitter_text" in sys.modules, "pkg_resources": "pkg_resources" in sys.modules}))
"""


def package_build(worktree: Path, output: Path, *, stage: str, venv: Path) -> Path:
    """`zappa package` run in `worktree`, packaging `venv` (never the developer's .venv)."""
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    subprocess.run(
        [str(venv / "bin" / "zappa"), "package", stage, "-o", str(output)], cwd=worktree, env=env, check=True, capture_output=True
    )
    return output


def package_sizes(package: Path) -> dict:
    with zipfile.ZipFile(package) as archive:
        entries = archive.infolist()
        names = {entry.filename.split("/")[0] for entry in entries}
    return {
        "zipped_mib": round(package.stat().st_size / MIB, 1),
        "unzipped_mib": round(sum(entry.file_size for entry in entries) / MIB, 1),
        "files": len(entries),
        "dev_tools_inside": sorted(names & {"pytest", "moto", "onnxruntime", "numpy", "mypy", "ruff", "pip", "setuptools", "troposphere"}),
    }


def unpack(package: Path, into: Path) -> Path:
    with zipfile.ZipFile(package) as archive:
        archive.extractall(into)
    # Offline: the remote env file would be read from S3 on a cold start; its values are set below.
    settings = into / "zappa_settings.py"
    settings.write_text("\n".join(line for line in settings.read_text().splitlines() if not line.startswith("REMOTE_ENV")) + "\n")
    return into


def cold_starts(folder: Path, runs: int, *, cached: bool) -> list[dict]:
    event = api_gateway_event("GET", "/webhooks/x/", query={"crc_token": "bench"})
    env = {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "AWS_LAMBDA_FUNCTION_NAME": "imagebot-dev",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "DJANGO_SECRET_KEY": "bench-only-" + "k" * 40,
        "DATABASE_URL": "postgres://bench@127.0.0.1:9/bench",  # never connected to: the CRC needs no query
        "X_CONSUMER_SECRET": CONSUMER_SECRET,
    }
    # -E ignores PYTHON* variables, so "lambda" says -B: /var/task is read-only, nothing is
    # cached between cold starts (and runs first, before any cache exists; a .pyc the base's
    # package carries names the wrong source time, so Python passes it by).
    flags = ["-S", "-E"] if cached else ["-S", "-E", "-B"]
    results = []
    for _ in range(runs + cached):  # cached: a first run writes the bytecode
        child = subprocess.run(
            [sys.executable, *flags, "-c", CHILD, json.dumps(event)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if child.returncode != 0:
            raise SystemExit(f"cold start failed in {folder}:\n{child.stderr[-3000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        if result["status"] != 200 or "sha256=" not in result["body"]:
            raise SystemExit(f"the CRC GET was not answered: {result}")
        results.append(result)
    return results[cached:]


def summary(results: list[dict]) -> dict:
    return {
        "cold_start_median_s": round(statistics.median(r["cold_start_s"] for r in results), 3),
        "cold_start_min_s": round(min(r["cold_start_s"] for r in results), 3),
        "import_median_s": round(statistics.median(r["import_s"] for r in results), 3),
        "imports_twitter_text": any(r["twitter_text"] for r in results),
        "imports_pkg_resources": any(r["pkg_resources"] for r in results),
        "runs": len(results),
    }


def measure_both(folders: dict[str, Path], runs: int) -> dict[str, dict]:
    """Each way, the packages take turns, one fresh process each: a load that comes and goes
    on the machine weighs on both alike."""
    results: dict[str, dict] = {name: {} for name in folders}
    for way, cached in (("lambda", False), ("cached", True)):
        taken: dict[str, list] = {name: [] for name in folders}
        for _ in range(runs):
            for name, folder in folders.items():
                taken[name] += cold_starts(folder, 1, cached=cached)
        for name in folders:
            results[name][way] = summary(taken[name])
    return results


def base_worktree(rev: str, workdir: Path) -> Path:
    """A throwaway worktree of `rev`. Its settings file is told not to fetch wheels from PyPI
    (the venv's are already Lambda's: Linux x86_64, CPython 3.11), as ours is."""
    path = workdir / "base-worktree"
    subprocess.run([GIT, "worktree", "add", "--detach", "--quiet", str(path), rev], cwd=ROOT, check=True)
    settings_file = path / "zappa_settings.json"
    settings = json.loads(settings_file.read_text())
    for stage in settings.values():
        stage.setdefault("use_precompiled_packages", False)
    settings_file.write_text(json.dumps(settings, indent=4))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--base", default=BASE, help="the commit to compare with (packaged the same way)")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-package")
    parser.add_argument("--sizes", type=Path, metavar="ZIP", help="only print this package's sizes")
    args = parser.parse_args()
    if args.sizes:
        print(json.dumps({"package": str(args.sizes), **package_sizes(args.sizes)}))
        return
    if not (args.venv / "bin" / "zappa").exists():
        raise SystemExit(f"no zappa in {args.venv}: run `make package` first")
    workdir = Path(tempfile.mkdtemp(prefix="imagebot-package-bench-"))
    base = None
    try:
        base = base_worktree(args.base, workdir)
        packages = {
            "now": package_build(ROOT, workdir / "now.zip", stage=args.stage, venv=args.venv),
            "base": package_build(base, workdir / "base.zip", stage=args.stage, venv=args.venv),
        }
        timings = measure_both({name: unpack(package, workdir / name) for name, package in packages.items()}, args.runs)
        now, before = ({**package_sizes(packages[name]), **timings[name]} for name in ("now", "base"))
    finally:
        if base is not None:
            subprocess.run([GIT, "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        json.dumps(
            {
                "stage": args.stage,
                "host": API_HOST,
                "python": sys.version.split()[0],
                "now": now,
                f"base {args.base}": before,
                "cold_start_ratio": {
                    way: round(now[way]["cold_start_median_s"] / before[way]["cold_start_median_s"], 2) for way in ("lambda", "cached")
                },
                "zipped_ratio": round(now["zipped_mib"] / before["zipped_mib"], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
