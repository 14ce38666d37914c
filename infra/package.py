"""Build the deployable CloudFormation (SAM) template and the Lambda zip under ``build/``.

``infra/template.json`` stays the one definition of the shared resources (the local stack
provisions it too); ``infra/deploy-overlay.json`` adds what exists only in AWS and refers to
Chalice's resources (function names, environment, log groups, alarms). The two are merged
here, strictly: the overlay may add, never silently change, the shared template. Chalice then
merges the result into its own template (its deep merge: our values win, dicts merge).

Usage: ``python -m infra.package [--stage prod] [--out build]``. Offline: ``chalice package``
only needs a region name, not AWS credentials or network access to AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_DIR / "infra" / "template.json"
OVERLAY_PATH = PROJECT_DIR / "infra" / "deploy-overlay.json"
BUILD_DIR = PROJECT_DIR / "build"
DEFAULT_STAGE = "prod"
# Only the region's name (and so its partition, aws-cn) matters to the packager.
DEFAULT_REGION = "cn-north-1"
# Top-level keys the overlay may replace outright: the deployed stack describes itself.
REPLACEABLE = {"Description"}


class MergeConflictError(ValueError):
    pass


def merge_strict(base: Any, addition: Any, path: str = "") -> Any:
    """Union of two JSON documents; a key both define must hold equal scalars or mergeable dicts."""
    if isinstance(base, dict) and isinstance(addition, dict):
        merged = dict(base)
        for key, value in addition.items():
            where = f"{path}.{key}" if path else key
            if key not in base or (not path and key in REPLACEABLE):
                merged[key] = value
            else:
                merged[key] = merge_strict(base[key], value, where)
        return merged
    if base == addition:
        return base
    raise MergeConflictError(f"deploy overlay changes {path} of infra/template.json; change it there instead")


def merged_template(template_path: Path = TEMPLATE_PATH, overlay_path: Path = OVERLAY_PATH) -> dict[str, Any]:
    template = json.loads(template_path.read_text(encoding="utf-8"))
    overlay = json.loads(overlay_path.read_text(encoding="utf-8"))
    return merge_strict(template, overlay)


def package(out_dir: Path = BUILD_DIR, stage: str = DEFAULT_STAGE, region: str | None = None) -> Path:
    """Write ``<out_dir>/sam.json`` and ``<out_dir>/deployment.zip``; return the template's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    merge_path = out_dir / "merge-template.json"
    merge_path.write_text(json.dumps(merged_template(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # chalice package refuses to write into a directory that holds an earlier package.
    for name in ("sam.json", "deployment.zip"):
        (out_dir / name).unlink(missing_ok=True)
    env = {**os.environ, "AWS_DEFAULT_REGION": region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION}
    # The chalice beside this interpreter (the project's venv), else the one on PATH.
    beside = Path(sys.executable).with_name("chalice")
    chalice = str(beside) if beside.exists() else shutil.which("chalice")
    if chalice is None:
        raise RuntimeError("chalice is not installed: run `make install`")
    command = [
        chalice,
        "--project-dir",
        str(PROJECT_DIR),
        "package",
        "--stage",
        stage,
        "--merge-template",
        str(merge_path),
        str(out_dir),
    ]
    subprocess.run(command, cwd=PROJECT_DIR, env=env, check=True)  # noqa: S603 (our own venv's chalice)
    record_validated_data(out_dir / "deployment.zip")
    precompile(out_dir / "deployment.zip", lambda_runtime(out_dir / "sam.json"))
    return out_dir / "sam.json"


def lambda_runtime(template_path: Path) -> str:
    """The functions' runtime (``python3.11``); they all share one."""
    resources = json.loads(template_path.read_text(encoding="utf-8")).get("Resources", {})
    runtimes = {r["Properties"]["Runtime"] for r in resources.values() if "Runtime" in r.get("Properties", {})}
    if len(runtimes) != 1:
        raise RuntimeError(f"expected one Lambda runtime, found {sorted(runtimes)}")
    return runtimes.pop()


# The data files the functions load and the schema each must satisfy (paths inside the zip).
VALIDATED_DATA = {"chalicelib/data/campaigns/": "campaign", "chalicelib/data/templates/": "table-template"}


class InvalidDataError(ValueError):
    pass


def record_validated_data(zip_path: Path) -> list[str]:
    """Validate every campaign and table template in the zip with jsonschema, fail the build on the first
    invalid one, and write the digests of the valid ones to ``validated-data.json`` at the zip's root, where
    ``chalicelib.domain.schemas`` finds them: a cold start then skips validating what the build already did."""
    from jsonschema import Draft202012Validator

    from chalicelib.domain.schemas import VALIDATED_PATH, digest

    valid = []
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            name = next((n for prefix, n in VALIDATED_DATA.items() if info.filename.startswith(prefix)), None)
            if name is None or not info.filename.endswith(".json"):
                continue
            schema, source = archive.read(f"schemas/{name}.schema.json"), archive.read(info)
            error = next(Draft202012Validator(json.loads(schema)).iter_errors(json.loads(source)), None)
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                raise InvalidDataError(f"{info.filename}: {where}: {error.message}")
            valid.append(digest(schema, source))
    with zipfile.ZipFile(zip_path, "a") as archive:
        archive.writestr(VALIDATED_PATH.name, json.dumps({"valid": sorted(valid)}, indent=1))
    return valid


def precompile(zip_path: Path, runtime: str) -> int:
    """Add each module's .pyc to the zip; return how many. Chalice ships sources only, and /var/task is
    read-only, so without them every cold start compiles every module it imports (measured: about 2-3x the
    import time; docs/performance.md). ``unchecked-hash`` pycs are used whatever the zip's file times say.
    Bytecode is version-specific: built only when this interpreter is the runtime's version."""
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if here != runtime:
        print(f"not precompiling: this is {here}, the functions run {runtime}", file=sys.stderr)
        return 0
    _drop_checked_bytecode(zip_path)
    added = 0
    with tempfile.TemporaryDirectory(prefix="precompile-") as tmp, zipfile.ZipFile(zip_path, "a") as archive:
        existing = set(archive.namelist())
        for info in archive.infolist():
            if not info.filename.endswith(".py") or info.is_dir():
                continue
            source = Path(tmp) / info.filename
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(archive.read(info))
            relative = Path(info.filename)
            name = f"{relative.stem}.{sys.implementation.cache_tag}.pyc"
            target = (relative.parent / "__pycache__" / name).as_posix()
            if target in existing:
                continue
            compiled = Path(tmp) / target
            try:
                py_compile.compile(
                    str(source),
                    cfile=str(compiled),
                    dfile=f"/var/task/{info.filename}",  # tracebacks name the file where Lambda has it
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
            except py_compile.PyCompileError:
                continue  # a vendored file that is not meant for this version (Python 2 leftovers): skip it
            entry = zipfile.ZipInfo(target, date_time=info.date_time)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, compiled.read_bytes())
            added += 1
    return added


def _drop_checked_bytecode(zip_path: Path) -> int:
    """Remove every .pyc that is not unchecked-hash; return how many. Chalice copies chalicelib/ as it is
    on disk, __pycache__ included: timestamp .pyc from the working tree (any test run or import writes
    them), which record the working tree's file times and so never match the unpacked sources. Python
    ignores them and compiles every chalicelib module on every cold start; ``precompile``, which skips a
    .pyc already in the zip, would never replace them."""
    with zipfile.ZipFile(zip_path) as archive:
        stale = {
            info.filename
            for info in archive.infolist()
            if info.filename.endswith(".pyc") and int.from_bytes(archive.read(info)[4:8], "little") != 0b01
        }
    if stale:
        rewritten = zip_path.with_name(zip_path.name + ".tmp")
        with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                if info.filename not in stale:
                    target.writestr(info, source.read(info))
        rewritten.replace(zip_path)
    return len(stale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default=DEFAULT_STAGE)
    parser.add_argument("--out", type=Path, default=BUILD_DIR)
    parser.add_argument("--region", default=None, help=f"region name for the packager (default {DEFAULT_REGION})")
    args = parser.parse_args(argv)
    print(package(args.out.resolve(), args.stage, args.region))
    return 0


if __name__ == "__main__":
    sys.exit(main())
