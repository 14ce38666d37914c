"""The deployment zip carries precompiled bytecode (infra.package.precompile).

Lambda's /var/task is read-only, so a zip of sources only is compiled on every cold start (docs/
performance.md measures the difference). The .pyc files are "unchecked-hash": valid whatever the zip's
timestamps, and only built by an interpreter of the functions' Python version.
"""

from __future__ import annotations

import py_compile
import subprocess
import sys
import zipfile
from pathlib import Path

from infra.package import precompile

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _zip(tmp_path: Path) -> Path:
    path = tmp_path / "deployment.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.py", "from lib import helper\nVALUE = helper.answer()\n")
        archive.writestr("lib/__init__.py", "")
        archive.writestr("lib/helper.py", "def answer() -> int:\n    return 42\n")
        archive.writestr("lib/py2_leftover.py", "print 'python 2'\n")
        archive.writestr("schemas/x.json", "{}")
    return path


def test_every_module_gets_an_unchecked_hash_pyc(tmp_path: Path) -> None:
    path = _zip(tmp_path)
    assert precompile(path, RUNTIME) == 3  # the Python 2 leftover is skipped, not fatal
    names = zipfile.ZipFile(path).namelist()
    tag = sys.implementation.cache_tag
    assert {f"__pycache__/app.{tag}.pyc", f"lib/__pycache__/helper.{tag}.pyc"} <= set(names)
    pyc = zipfile.ZipFile(path).read(f"lib/__pycache__/helper.{tag}.pyc")
    assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, unchecked
    assert precompile(path, RUNTIME) == 0  # idempotent

    task = tmp_path / "task"
    zipfile.ZipFile(path).extractall(task)
    (task / "lib" / "helper.py").write_text("def answer() -> int:\n    return 0\n")  # the pyc wins: unchecked
    probe = "import app, lib.helper; print(app.VALUE, lib.helper.__cached__ is not None)"
    result = subprocess.run(
        [sys.executable, "-S", "-B", "-c", probe], cwd=task, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["42", "True"]


def test_another_python_version_gets_no_bytecode(tmp_path: Path) -> None:
    path = _zip(tmp_path)
    assert precompile(path, "python3.99") == 0
    assert not any(n.endswith(".pyc") for n in zipfile.ZipFile(path).namelist())


def test_timestamp_pycs_chalice_copies_are_replaced(tmp_path: Path) -> None:
    """Chalice copies chalicelib/__pycache__ from the working tree: timestamp pycs that never match the
    unpacked sources' times, so Python would ignore them and compile on every cold start."""
    path = _zip(tmp_path)
    tag = sys.implementation.cache_tag
    stale = tmp_path / "stale.pyc"
    source = tmp_path / "helper.py"
    source.write_text("def answer() -> int:\n    return 42\n")
    py_compile.compile(str(source), cfile=str(stale), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(f"lib/__pycache__/helper.{tag}.pyc", stale.read_bytes())
    precompile(path, RUNTIME)
    with zipfile.ZipFile(path) as archive:
        pycs = [n for n in archive.namelist() if n == f"lib/__pycache__/helper.{tag}.pyc"]
        assert len(pycs) == 1
        assert int.from_bytes(archive.read(pycs[0])[4:8], "little") == 0b01  # unchecked hash, not the copy
