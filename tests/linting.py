"""Checks that emitted modules are clean Python: `py_compile`, then a linter.

The linter is ruff (the `test` extra installs it) with pyflakes's rules and no project
configuration; without ruff, pyflakes; without either, a name check: every name the module
reads is bound somewhere in it (assigned, a parameter, imported, defined) or a builtin.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path


def py_compiles(path: Path, cache: Path) -> None:
    """`python -m py_compile path` in a fresh interpreter, as a user would run it (bytecode
    goes to `cache`, not beside the module)."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(cache)}
    done = subprocess.run([sys.executable, "-m", "py_compile", str(path)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr


def _unbound_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    compile(tree, str(path), "exec")
    bound = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return sorted({node.id for node in ast.walk(tree)
                   if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
                   and node.id not in bound})


def lint(*paths: Path) -> str:
    """Lint `paths`; fails the test on any finding. Returns the linter used."""
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is not None:
        # pyflakes (F) and syntax-level pycodestyle (E4, E7, E9): ruff's classic defaults.
        done = subprocess.run([ruff, "check", "--isolated", "--no-cache",
                               "--select", "E4,E7,E9,F", *map(str, paths)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return "ruff"
    if importlib.util.find_spec("pyflakes") is not None:
        done = subprocess.run([sys.executable, "-m", "pyflakes", *map(str, paths)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return "pyflakes"
    for path in paths:
        assert _unbound_names(path) == [], path
    return "names"
