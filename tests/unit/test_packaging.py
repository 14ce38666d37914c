"""What Chalice puts in the Lambda zip can load every schema and the campaign registry.

Uses the packager's own methods for app files and ``vendor/`` (the ones ``chalice package``
calls), without downloading dependencies, then imports from the extracted zip alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from chalice.deploy.packager import BaseLambdaDeploymentPackager
from chalice.utils import OSUtils

from infra.package import InvalidDataError, record_validated_data

ROOT = Path(__file__).resolve().parents[2]


def _app_zip(tmp_path: Path) -> Path:
    packager = BaseLambdaDeploymentPackager(OSUtils(), None, None)  # type: ignore[arg-type]
    path = tmp_path / "app.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        packager._add_app_files(zipped, str(ROOT))
        packager._add_vendor_files(zipped, str(ROOT / "vendor"))
    return path


def _run_in(task: Path, probe: str) -> str:
    """Run ``probe`` with nothing importable but the extracted zip in ``task``; its output."""
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=task,
        env={"PYTHONPATH": str(task), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_package_carries_every_schema_from_the_single_source(tmp_path: Path) -> None:
    names = set(zipfile.ZipFile(_app_zip(tmp_path)).namelist())
    schemas = {f"schemas/{p.name}" for p in (ROOT / "schemas").glob("*.json")}
    assert schemas and schemas <= names
    assert "chalicelib/data/campaigns/xinzhou-2023.json" in names
    assert "app.py" in names
    assert not any(n.startswith(("infra/", "tests/")) for n in names)


def test_the_packaged_app_loads_its_schemas_and_registry_without_the_repository(tmp_path: Path) -> None:
    extracted = tmp_path / "task"
    zipfile.ZipFile(_app_zip(tmp_path)).extractall(extracted)
    probe = (
        "import chalicelib, chalicelib.domain.schemas as s, chalicelib.domain.registry as r, app;"
        f"assert chalicelib.__file__.startswith(r'{extracted}'), chalicelib.__file__;"
        "[s.validator(n) for n in s.schema_names()];"
        "print(len(s.schema_names()), len(r.load_registry().campaigns), app.app.app_name)"
    )
    schema_count, campaign_count, app_name = _run_in(extracted, probe).split()
    assert int(schema_count) == len(list((ROOT / "schemas").glob("*.schema.json")))
    assert (int(campaign_count), app_name) == (1, "campaign-reporting")


def _loads_and_validates(task: Path) -> set[str]:
    """Load the registry and every table template from ``task`` alone; the schemas compiled on the way."""
    probe = (
        "import chalicelib.domain.schema_check as f, chalicelib.domain.registry as r;"
        "import chalicelib.domain.tables.templates as t;"
        "r.load_registry(); [t.load_template(i) for i in t.template_ids()];"
        "print(' '.join(sorted(n for n in ('campaign', 'table-template') if n in f.COMPILED)))"
    )
    return set(_run_in(task, probe).split())


def test_data_validated_by_the_build_is_not_validated_again_at_cold_start(tmp_path: Path) -> None:
    path = _app_zip(tmp_path)
    digests = record_validated_data(path)
    assert len(digests) == 1 + len(list((ROOT / "chalicelib" / "data" / "templates").glob("*.json")))
    task = tmp_path / "task"
    zipfile.ZipFile(path).extractall(task)
    assert (task / "validated-data.json").is_file()
    assert _loads_and_validates(task) == set()

    # Different bytes (still valid) are not what the build checked: validated at load, as in a working tree.
    campaign = task / "chalicelib" / "data" / "campaigns" / "xinzhou-2023.json"
    campaign.write_text(campaign.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert _loads_and_validates(task) == {"campaign"}
    (task / "validated-data.json").unlink()
    assert _loads_and_validates(task) == {"campaign", "table-template"}


def test_the_build_refuses_invalid_data(tmp_path: Path) -> None:
    path = _app_zip(tmp_path)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "chalicelib/data/campaigns/xinzhou-2023.json":
                raw = json.loads(data)
                raw["units"][0]["contacts"][0]["email"] = 42
                data = json.dumps(raw, ensure_ascii=False).encode()
            target.writestr(info, data)
    with pytest.raises(InvalidDataError, match=r"xinzhou-2023\.json: units/0/contacts/0/email"):
        record_validated_data(broken)
