"""House habits the suite holds the code to: ruff clean, and a public surface in every module."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p for p in (ROOT / "src" / "workbench").rglob("*.py") if "__pycache__" not in p.parts)


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is a test dependency (pyproject.toml [test]); install the project with .[test]")
    command = [ruff, "check", "--no-cache", "src", "tests", "bench", "docs"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(ROOT / "src").as_posix())
def test_every_module_declares_its_public_names(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    def names_assigned(node) -> set[str]:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
        return {t.id for t in flat if isinstance(t, ast.Name)}

    assignments = [node for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))]
    declared = [node for node in assignments if "__all__" in names_assigned(node)]
    assert declared, f"{path.name} has no __all__"
    names = ast.literal_eval(declared[0].value)
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            defined |= names_assigned(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    missing = [name for name in names if name not in defined]
    assert not missing, f"{path.name}: __all__ names what the module does not define: {missing}"


def test_the_api_page_is_what_the_docstrings_give():
    command = [sys.executable, str(ROOT / "docs" / "make_api.py"), "--check"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, f"docs/API.md is out of date: run .venv/bin/python docs/make_api.py {result.stderr}"
