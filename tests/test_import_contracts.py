"""The import contracts in pyproject.toml (import-linter): apps import downwards only
(core ← accounts ← integrations ← connections, features) and no package has an import cycle."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
APPS = ["core", "accounts", "integrations", "connections", "features", "config"]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(cwd / "pyproject.toml")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_project_keeps_its_import_contracts():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.fixture
def tree(tmp_path):
    """An empty package per app, checked against a copy of the project's contracts."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for app in APPS:
        (tmp_path / app).mkdir()
        (tmp_path / app / "__init__.py").write_text("")
    return tmp_path


def test_the_contracts_name_every_app():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert sorted(config["root_packages"]) == sorted(APPS)


def test_a_lower_app_importing_a_higher_one_breaks_the_layers(tree):
    (tree / "accounts" / "admin.py").write_text("from connections import models\n")
    (tree / "connections" / "models.py").write_text("")

    result = lint_imports(tree)

    assert result.returncode == 1
    assert "accounts is not allowed to import connections" in result.stdout
    assert "accounts.admin -> connections.models" in result.stdout


def test_a_cycle_hidden_in_a_function_is_still_a_cycle(tree):
    (tree / "connections" / "tasks.py").write_text("from connections import testing\n")
    (tree / "connections" / "testing.py").write_text("def send():\n    from connections import tasks\n")

    result = lint_imports(tree)

    assert result.returncode == 1
    assert "No import cycles between the modules of a package BROKEN" in result.stdout
    assert "- .testing -> .tasks (1 import)" in result.stdout


def test_sibling_apps_do_not_import_each_other(tree):
    (tree / "features" / "views.py").write_text("import connections.models\n")
    (tree / "connections" / "models.py").write_text("")

    result = lint_imports(tree)

    assert result.returncode == 1
    assert "features is not allowed to import connections" in result.stdout
