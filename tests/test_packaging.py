"""What Chalice puts in the Lambda zip can load every schema and the campaign registry.

Uses the packager's own methods for app files and ``vendor/`` (the ones ``chalice package``
calls), without downloading dependencies, then imports from the extracted zip alone.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from chalice.deploy.packager import BaseLambdaDeploymentPackager
from chalice.utils import OSUtils

ROOT = Path(__file__).resolve().parent.parent


def _app_zip(tmp_path: Path) -> Path:
    packager = BaseLambdaDeploymentPackager(OSUtils(), None, None)  # type: ignore[arg-type]
    path = tmp_path / "app.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        packager._add_app_files(zipped, str(ROOT))
        packager._add_vendor_files(zipped, str(ROOT / "vendor"))
    return path


def test_the_package_carries_every_schema_from_the_single_source(tmp_path: Path) -> None:
    names = set(zipfile.ZipFile(_app_zip(tmp_path)).namelist())
    schemas = {f"schemas/{p.name}" for p in (ROOT / "schemas").glob("*.json")}
    assert schemas and schemas <= names
    assert "chalicelib/campaigns/xinzhou-2023.json" in names
    assert "app.py" in names
    assert not any(n.startswith(("infra/", "tests/")) for n in names)


def test_the_packaged_app_loads_its_schemas_and_registry_without_the_repository(tmp_path: Path) -> None:
    extracted = tmp_path / "task"
    zipfile.ZipFile(_app_zip(tmp_path)).extractall(extracted)
    probe = (
        "import chalicelib, chalicelib.schemas as s, chalicelib.registry as r, app;"
        f"assert chalicelib.__file__.startswith(r'{extracted}'), chalicelib.__file__;"
        "[s.validator(n) for n in s.schema_names()];"
        "print(len(s.schema_names()), len(r.load_registry().campaigns), app.app.app_name)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=extracted,
        env={"PYTHONPATH": str(extracted), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    schema_count, campaign_count, app_name = result.stdout.split()
    assert int(schema_count) == len(list((ROOT / "schemas").glob("*.schema.json")))
    assert (int(campaign_count), app_name) == (1, "campaign-reporting")
