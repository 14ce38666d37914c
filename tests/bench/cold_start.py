"""Cold start: each Lambda entry point imported in fresh processes, against ``import boto3`` in the same run.

An entry point is ``import app`` plus what its handler imports on its first call (they are lazy, inside
the handler), with the stage's environment from .chalice/config.json. Two settings:

* ``venv``: the project's interpreter and site-packages, bytecode cached (what a warm laptop sees);
* ``package``: the extracted build/deployment.zip alone (``python -S``, nothing from the venv), with
  ``-B`` as on Lambda's read-only /var/task, once as Chalice ships it (no .pyc: every module compiled on
  every cold start) and once with the .pyc files ``infra.package`` precompiles.
"""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]

# What each handler imports on its first call (see the function bodies in app.py).
ENTRY_POINTS: dict[str, str] = {
    "boto3": "import boto3",
    "api (app + office route)": (
        "import app\n"
        "from chalicelib.domain import auth\n"
        "from chalicelib.services import queries\n"
        "from chalicelib.http import openapi\n"
        "from chalicelib.domain.registry import default_registry\n"
        "default_registry()"
    ),
    "upload (app + intake + tables)": (
        "import app\n"
        "from chalicelib.adapters import aws, mail, objects\n"
        "from chalicelib.services import intake\n"
        "from chalicelib.domain import s3_events, tables\n"
        "from chalicelib import config\n"
        "from chalicelib.domain.registry import default_registry\n"
        "default_registry()"
    ),
    "sweep (app + sweep)": (
        "import app\n"
        "from chalicelib.adapters import mail\n"
        "from chalicelib.services import sweep\n"
        "from chalicelib.domain import timeutil\n"
        "from chalicelib import config\n"
        "from chalicelib.domain.registry import default_registry\n"
        "default_registry()"
    ),
}
HEAVY = ("python_calamine", "docx", "pypdf", "openpyxl", "xlsxwriter", "lxml", "jsonschema")

_PROBE = """
import sys, time, json
start = time.perf_counter()
exec(compile({code!r}, "<entry>", "exec"))
elapsed = (time.perf_counter() - start) * 1000
print(json.dumps({{"ms": elapsed, "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def stage_environment(stage: str = "prod") -> dict[str, str]:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text(encoding="utf-8"))
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    env.update(
        AWS_DEFAULT_REGION="cn-north-1",
        AWS_REGION="cn-north-1",
        TABLE_NAME="campaign-reporting-prod",
        BUCKET_NAME="campaign-uploads-prod",
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        LANG="C.UTF-8",
    )
    return env


def _run(code: str, args: list[str], env: dict[str, str], cwd: Path) -> dict[str, object]:
    probe = _PROBE.format(code=code, heavy=HEAVY)
    out = subprocess.run([*args, "-c", probe], env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"probe failed ({args}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(runs: int, args: list[str], env: dict[str, str], cwd: Path) -> dict[str, dict[str, object]]:
    """Median milliseconds per entry point; the entry points take turns so load drifts hit all alike."""
    samples: dict[str, list[float]] = {name: [] for name in ENTRY_POINTS}
    heavy: dict[str, list[str]] = {}
    for _ in range(runs):
        for name, code in ENTRY_POINTS.items():
            result = _run(code, args, env, cwd)
            samples[name].append(float(result["ms"]))  # type: ignore[arg-type]
            heavy[name] = list(result["heavy"])  # type: ignore[arg-type]
    return {
        name: {"median_ms": statistics.median(v), "runs": len(v), "heavy": heavy[name]} for name, v in samples.items()
    }


def venv_cold_start(runs: int) -> dict[str, dict[str, object]]:
    env = stage_environment()
    # The venv's bytecode is in place (a second process never recompiles): compile it once up front.
    compileall.compile_dir(PROJECT_DIR / "chalicelib", quiet=1)
    py_compile.compile(str(PROJECT_DIR / "app.py"))
    return measure(runs, [sys.executable], env, PROJECT_DIR)


def package_cold_start(zip_path: Path, runs: int) -> dict[str, dict[str, dict[str, object]]]:
    """The deployment zip as shipped (with or without .pyc, whichever it holds) and the other way round."""
    results: dict[str, dict[str, dict[str, object]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-task-") as tmp:
        task = Path(tmp) / "task"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(task)
        env = {**stage_environment(), "PYTHONPATH": str(task), "PYTHONDONTWRITEBYTECODE": "1"}
        args = [sys.executable, "-S", "-B"]  # -S: nothing from the venv; -B: /var/task is read-only
        shipped_pyc = any(task.rglob("*.pyc"))
        if shipped_pyc:
            results["with .pyc (as built)"] = measure(runs, args, env, task)
            for cache in list(task.rglob("__pycache__")):
                shutil.rmtree(cache)
            results["without .pyc"] = measure(runs, args, env, task)
        else:
            results["without .pyc (as built)"] = measure(runs, args, env, task)
            compileall.compile_dir(
                task, quiet=1, ddir="/var/task", invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
            )
            results["with .pyc"] = measure(runs, args, env, task)
    return results


def build_package() -> tuple[Path, float]:
    """``make package`` (build/sam.json and build/deployment.zip); the zip and its size in MB."""
    subprocess.run(["make", "-s", "package"], cwd=PROJECT_DIR, check=True, capture_output=True)
    zip_path = PROJECT_DIR / "build" / "deployment.zip"
    return zip_path, zip_path.stat().st_size / 1_000_000
