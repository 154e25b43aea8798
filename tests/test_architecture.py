"""Architecture rules, read from the source with ast: who may import robots, triggers and dramatiq."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kanban", "robots", "triggers")
COMPOSITION_ROOT = Path("kanban/bootstrap.py")


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module a source file imports (static and importlib.import_module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Call) and _is_import_call(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return {name.split(".")[0] for name in found}


def _is_import_call(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("import_module", "__import__")


def modules() -> dict[Path, set[str]]:
    """Each Python file of the packages (relative path) with the modules it imports."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            out[path.relative_to(ROOT)] = imported_modules(path.read_text(encoding="utf-8"))
    return out


def test_the_import_reader_sees_every_form():
    source = (
        "import robots.kinds.notify\nfrom triggers import x\nimport os, dramatiq as d\nfrom . import sibling\n"
        "def f():\n    import importlib\n    importlib.import_module('robots.registry')\n    __import__('json')\n"
    )
    assert imported_modules(source) == {"robots", "triggers", "os", "dramatiq", "importlib", "json"}


def test_packages_are_found():
    found = modules()
    assert COMPOSITION_ROOT in found
    assert {p.parts[0] for p in found} == set(PACKAGES)
    assert len(found) > 20


def test_core_never_imports_robots_or_triggers_except_the_composition_root():
    offenders = {str(path): sorted(imports & {"robots", "triggers"}) for path, imports in modules().items()
                 if path.parts[0] == "kanban" and path != COMPOSITION_ROOT and imports & {"robots", "triggers"}}
    assert offenders == {}


def test_robots_and_triggers_do_not_import_each_other():
    offenders = {str(path): sorted(imports) for path, imports in modules().items()
                 if (path.parts[0] == "robots" and "triggers" in imports)
                 or (path.parts[0] == "triggers" and "robots" in imports)}
    assert offenders == {}


def test_only_actors_modules_import_dramatiq():
    offenders = [str(path) for path, imports in modules().items()
                 if "dramatiq" in imports and path.name != "actors.py"]
    assert offenders == []
