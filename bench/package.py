"""The Lambda package: its size, and the cold start of Zappa's handler running it.

Prints JSON: the zipped and unzipped size of the package `make package` builds (`zappa
package` with zappa_settings.json's exclusions, from the clean .venv-package, then the
bytecode scripts/package_bytecode.py adds), and the cold start: a fresh interpreter that
sees only the unzipped package, as Lambda runs it (no site-packages), importing
zappa.handler and answering a first request (the CRC GET) through LambdaHandler. The
median of --runs fresh processes each, two ways:
- "lambda": as on Lambda, where /var/task is read-only: nothing is written (-B), so each
  cold start has only the bytecode the package carries, and compiles the rest;
- "cached": with the bytecode a first run wrote, as a warm disk cache on a server would:
  the imports alone, the same work for both packages whatever bytecode they carry.

The same is measured, in the same run, for --base (a commit, default: the one before
the Lambda work of issue 10), packaged as it was then (no bytecode) from a git worktree of
it with the same venv, so the ratio compares like with like on a machine whose speed varies.
For a later base, --base-as-built packages it as its own `make package` did: the static
files collected into it (WhiteNoise reads them at start-up there), then the bytecode of its
own scripts/package_bytecode.py; --base-venv packages the base from another venv (one made
from the base's requirements.txt, when they differ: another database driver).

    make package                       # builds .venv-package, the package and prints its sizes
    .venv-package/bin/python bench/package.py [--runs 9] [--base REV] [--stage dev]
    .venv-package/bin/python bench/package.py --base REV --base-as-built --base-venv DIR
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

from scripts.package_bytecode import cold_start, unpack
from tests.fixtures.aws_lambda import API_HOST

BASE = "236c2a3"  # the last commit before the Lambda package work (issue 10)
MIB = 1024 * 1024
GIT = shutil.which("git") or "git"


def package_build(worktree: Path, output: Path, *, stage: str, venv: Path, as_built: bool) -> Path:
    """`zappa package` run in `worktree`, packaging `venv` (never the developer's .venv); `as_built`:
    as `worktree`'s own `make package` does, the static files collected first and its own
    scripts/package_bytecode.py's bytecode added after."""
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    python = str(venv / "bin" / "python")
    script = worktree / "scripts" / "package_bytecode.py"
    if as_built and not script.exists():
        raise SystemExit(f"{worktree} has no scripts/package_bytecode.py: its packages carried no bytecode")
    if as_built:
        shutil.rmtree(worktree / "staticfiles", ignore_errors=True)
        collect = [python, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
        subprocess.run(collect, cwd=worktree, check=True, capture_output=True)
    subprocess.run(
        [str(venv / "bin" / "zappa"), "package", stage, "-o", str(output)], cwd=worktree, env=env, check=True, capture_output=True
    )
    if as_built:
        subprocess.run([python, str(script), str(output)], cwd=worktree, check=True, capture_output=True)
    return output


def package_sizes(package: Path) -> dict:
    with zipfile.ZipFile(package) as archive:
        entries = archive.infolist()
        names = {entry.filename.split("/")[0] for entry in entries}
    return {
        "zipped_mib": round(package.stat().st_size / MIB, 2),
        "unzipped_mib": round(sum(entry.file_size for entry in entries) / MIB, 1),
        "files": len(entries),
        "bytecode_files": sum(entry.filename.endswith(".pyc") for entry in entries),
        "dev_tools_inside": sorted(names & {"pytest", "moto", "onnxruntime", "numpy", "mypy", "ruff", "pip", "setuptools", "troposphere"}),
    }


def summary(results: list[dict]) -> dict:
    return {
        "cold_start_median_s": round(statistics.median(r["cold_start_s"] for r in results), 3),
        "cold_start_min_s": round(min(r["cold_start_s"] for r in results), 3),
        # The processor time the cold start took: what its wall-clock time is on an idle
        # core, and much steadier than it on a machine that other work loads.
        "cold_start_cpu_median_s": round(statistics.median(r["cpu_s"] for r in results), 3),
        "import_median_s": round(statistics.median(r["import_s"] for r in results), 3),
        "imports_twitter_text": any(r["twitter_text"] for r in results),
        "imports_pkg_resources": any(r["pkg_resources"] for r in results),
        "modules": len(results[0]["modules"]),
        "runs": len(results),
    }


def measure_both(packages: dict[str, Path], workdir: Path, runs: int) -> dict[str, dict]:
    """Each package unpacked twice, one copy for each way, and all four take turns, one fresh
    process each: a load that comes and goes on the machine weighs on all alike. The
    "cached" copies get their bytecode from a first run; the "lambda" ones are never written."""
    folders = {(name, way): unpack(package, workdir / f"{name}-{way}") for name, package in packages.items() for way in WAYS}
    for (_, way), folder in folders.items():
        if way == "cached":
            cold_start(folder, cached=True)  # writes the bytecode the next runs read
    taken: dict[tuple[str, str], list] = {key: [] for key in folders}
    for _ in range(runs):
        for (name, way), folder in folders.items():
            taken[name, way].append(cold_start(folder, cached=way == "cached"))
    return {name: {way: summary(taken[name, way]) for way in WAYS} for name in packages}


WAYS = ("lambda", "cached")


def ratio(now: dict, before: dict, way: str, figure: str) -> float:
    return round(now[way][figure] / before[way][figure], 2)


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
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--base", default=BASE, help="the commit to compare with (packaged the same way)")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-package")
    parser.add_argument("--base-venv", type=Path, help="the venv the base is packaged from (default: --venv)")
    parser.add_argument("--base-as-built", action="store_true", help="package the base as its make package did (static files, bytecode)")
    parser.add_argument("--sizes", type=Path, metavar="ZIP", help="only print this package's sizes")
    args = parser.parse_args()
    if args.sizes:
        print(json.dumps({"package": str(args.sizes), **package_sizes(args.sizes)}))
        return
    if not (args.venv / "bin" / "zappa").exists():
        raise SystemExit(f"no zappa in {args.venv}: run `make package` first")
    base_venv = args.base_venv or args.venv
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="imagebot-package-bench-"))
    base = None
    try:
        base = base_worktree(args.base, workdir)
        packages = {
            "now": package_build(ROOT, workdir / "now.zip", stage=args.stage, venv=args.venv, as_built=True),
            "base": package_build(base, workdir / "base.zip", stage=args.stage, venv=base_venv, as_built=args.base_as_built),
        }
        timings = measure_both(packages, workdir, args.runs)
        now, before = ({**package_sizes(packages[name]), **timings[name]} for name in ("now", "base"))
    finally:
        if base is not None:
            subprocess.run([GIT, "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        json.dumps(
            {
                "stage": args.stage,
                # The 1, 5 and 15 minute load averages when the bench started and ended (2 cores here).
                "load_average": {"start": [round(load, 2) for load in load_before], "end": [round(load, 2) for load in os.getloadavg()]},
                "host": API_HOST,
                "python": sys.version.split()[0],
                "now": now,
                f"base {args.base}": before,
                "base_packaged": {"venv": str(base_venv), "as_built": args.base_as_built},
                "cold_start_ratio": {way: ratio(now, before, way, "cold_start_median_s") for way in WAYS},
                "cold_start_cpu_ratio": {way: ratio(now, before, way, "cold_start_cpu_median_s") for way in WAYS},
                "zipped_ratio": round(now["zipped_mib"] / before["zipped_mib"], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
