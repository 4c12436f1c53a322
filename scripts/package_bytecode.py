"""Add compiled bytecode to a Lambda package that `zappa package` built: `make package` runs it.

On Lambda the code is read-only (/var/task) and Zappa's zip carries no bytecode, so every
cold start compiled every module it imported: most of its time. This adds, for each module
a cold start imports, its `__pycache__/<name>.cpython-311.pyc`, compiled with
`--invalidation-mode unchecked-hash`: Python loads it without comparing it with the source
(a timestamp .pyc would never match: Zappa's zip gives every file the same 1980 date), so
it must be compiled from the very sources in the zip, as here, after they are packed.

Which modules: those a cold start of the unpacked package imports, found by running one,
as Lambda runs it (only the package on sys.path), for a CRC GET through Zappa's handler,
then importing what the other entry points import (the async job, the S3 event's
recognition, Pillow with every format a photo may be, the reply composer, X's client) and
the console's pages (the admin's URLs and registrations, which the webhook does not load).
Bytecode for every file would cost about 9 MiB zipped, these about 5. The rest (the REST
API: DRF, drf-spectacular) compiles when first imported, as before: an operator's first
API request in a new execution environment waits for it, X never does. The run doubles as
a smoke test: a package whose cold start fails is refused here, not on Lambda.

    python scripts/package_bytecode.py build/imagebot-dev.zip   # prints what it added, as JSON
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import py_compile
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024

# What each entry point other than the webhook's answer imports on its own first event.
# Listed, rather than run, because running them needs a database and AWS.
ALSO_IMPORTED = (
    "bot.tasks",  # the async job, the S3 event and the sweeper (zappa.asynchronous)
    "bot.media",  # a photo's download (Pillow, requests)
    "bot.replies",  # a reply's text (twitter_text)
    "bot.x_api",  # posting it (requests-oauthlib)
    "storages.backends.s3",  # photos in S3
    "imagebot_site.admin_urls",  # the console's pages: the admin's URLs and every ModelAdmin
)

# Runs in the unpacked package with nothing else on sys.path, as Lambda's bootstrap does.
CHILD = r"""
import json, sys, time, types
started, cpu_started = time.perf_counter(), time.process_time()
from zappa.handler import lambda_handler
imported = time.perf_counter()
context = types.SimpleNamespace(function_name="imagebot-dev", aws_request_id="cold-start",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:imagebot-dev",
    get_remaining_time_in_millis=lambda: 30000)
answer = lambda_handler(json.loads(sys.argv[1]), context)
answered, cpu_answered = time.perf_counter(), time.process_time()
also = json.loads(sys.argv[2])
for name in also:
    __import__(name)
if also:
    import io
    from PIL import Image
    from bot.media import ACCEPTED_FORMATS
    for fmt in ACCEPTED_FORMATS:  # every format a photo may be still decodes with what the package left of Pillow
        written = io.BytesIO()
        Image.new("RGB", (8, 8), "red").save(written, fmt)
        with Image.open(io.BytesIO(written.getvalue()), formats=[fmt]) as image:
            image.load()
print(json.dumps({"import_s": imported - started, "cold_start_s": answered - started, "cpu_s": cpu_answered - cpu_started,
    "status": answer["statusCode"], "body": answer["body"],
    "modules": sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)}),
    "twitter_text": "twitter_text" in sys.modules, "pkg_resources": "pkg_resources" in sys.modules}))
"""

# The environment of a Lambda cold start: the runtime's variables, fake credentials (nothing
# is called), and a database that is never connected to (the CRC needs no query).
LAMBDA_ENV = {
    "LANG": "C.UTF-8",
    "AWS_LAMBDA_FUNCTION_NAME": "imagebot-dev",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "cold-start",
    "AWS_SECRET_ACCESS_KEY": "cold-start",
    "DJANGO_SECRET_KEY": "cold-start-only-" + "k" * 40,
    "DATABASE_URL": "postgres://cold-start@127.0.0.1:9/cold-start",
    "X_CONSUMER_SECRET": "cold-start-secret",
}


def crc_event() -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.aws_lambda import api_gateway_event

    return api_gateway_event("GET", "/webhooks/x/", query={"crc_token": "cold-start"})


def unpack(package: Path, into: Path) -> Path:
    """The package as Lambda unpacks it, without its remote env file (read from S3 on a real cold start)."""
    with zipfile.ZipFile(package) as archive:
        archive.extractall(into)
    settings = into / "zappa_settings.py"
    settings.write_text("\n".join(line for line in settings.read_text().splitlines() if not line.startswith("REMOTE_ENV")) + "\n")
    return into


def cold_start(folder: Path, *, also: tuple[str, ...] = (), cached: bool = False) -> dict:
    """One cold start in a fresh interpreter that sees only `folder`: -S (no site-packages),
    -E (no PYTHON* variables), and -B unless `cached` (/var/task is read-only: nothing is
    written, so each cold start reads only the bytecode the package carries)."""
    flags = ["-S", "-E"] if cached else ["-S", "-E", "-B"]
    child = subprocess.run(  # noqa: S603 - our own interpreter on our own package
        [sys.executable, *flags, "-c", CHILD, json.dumps(crc_event()), json.dumps(list(also))],
        cwd=folder,
        env={"PATH": os.environ["PATH"], **LAMBDA_ENV},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if child.returncode != 0:
        raise SystemExit(f"the cold start failed in {folder}:\n{child.stderr[-3000:]}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    if result["status"] != 200 or "sha256=" not in result["body"]:
        raise SystemExit(f"the CRC GET was not answered: {result}")
    return result


def bytecode_add(package: Path) -> dict:
    """Add the unchecked-hash bytecode of every module a cold start imports to `package`, in place."""
    with tempfile.TemporaryDirectory(prefix="imagebot-bytecode-") as workdir:
        folder = unpack(package, Path(workdir) / "package")
        imported = cold_start(folder, also=ALSO_IMPORTED)["modules"]
        sources = sorted(path.relative_to(folder) for path in map(Path, imported) if path.suffix == ".py" and path.is_relative_to(folder))
        compiled = Path(workdir) / "compiled"
        before = package.stat().st_size
        with zipfile.ZipFile(package, "a", zipfile.ZIP_DEFLATED) as archive:
            present = set(archive.namelist())
            for source in sources:
                name = Path(importlib.util.cache_from_source(str(source)))
                if str(name) in present:
                    continue
                target = compiled / name
                # dfile: the path the code object names; Python puts the real one back when it loads it.
                py_compile.compile(
                    str(folder / source),
                    cfile=str(target),
                    dfile=str(source),
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
                entry = zipfile.ZipInfo(str(name))  # as Zappa writes its entries
                entry.create_system = 3
                entry.external_attr = 0o755 << 16
                archive.writestr(entry, target.read_bytes(), zipfile.ZIP_DEFLATED)
    return {"package": str(package), "bytecode_files": len(sources), "added_mib": round((package.stat().st_size - before) / MIB, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path)
    args = parser.parse_args()
    if sys.version_info[:2] != (3, 11):
        raise SystemExit("bytecode for the python3.11 runtime needs Python 3.11")
    print(json.dumps(bytecode_add(args.package)))


if __name__ == "__main__":
    main()
