"""The one-pipeline rules, read from the source itself: ops know no sheet, and nothing outside
the request layer dispatches on variant-or-network."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "convsheets"
# what an op must not know: sheets, drawing, views, the guide, the workbook
DRAWING = {"plan", "layout", "stages", "draw", "views", "explorer", "matrix", "scatter", "guide",
           "workbook", "build", "expected", "limits"}


def _imports(path: Path) -> set[str]:
    """Every convsheets module a file imports, relative to the package ("plan", "draw.conv")."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").startswith("convsheets."):
                found.add(node.module.removeprefix("convsheets."))  # type: ignore[union-attr]
            elif node.level:
                base = path.parent.relative_to(PACKAGE).parts[:len(path.parent.relative_to(
                    PACKAGE).parts) - (node.level - 1)]
                module = ".".join([*base, *(node.module or "").split(".")]).strip(".")
                found.add(module)
                found |= {f"{module}.{alias.name}".strip(".") for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("convsheets.") for a in node.names
                      if a.name.startswith("convsheets.")}
    return found


def test_no_op_imports_a_view_the_plan_or_the_guide() -> None:
    ops = sorted((PACKAGE / "ops").glob("*.py"))
    assert len(ops) >= 8
    bad = {path.name: sorted(m for m in _imports(path) if m.split(".")[0] in DRAWING)
           for path in ops}
    assert {name: mods for name, mods in bad.items() if mods} == {}


def test_the_import_reader_resolves_relative_imports() -> None:
    """(so the test above can fail: a drawer two levels down importing the plan is seen)"""
    assert {"plan", "ops", "stages"} <= _imports(PACKAGE / "draw" / "conv.py")
    assert {"explorer", "matrix", "scatter"} <= _imports(PACKAGE / "views.py")
    assert {"reference", "ops._conv"} <= _imports(PACKAGE / "ops" / "conv2d.py")


def test_no_variant_or_network_dispatch_outside_the_request_layer() -> None:
    """`isinstance(x, LayerSpec)` / `isinstance(x, Network)` only where requests are read."""
    allowed = {"spec.py", "request.py"}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "isinstance" and len(node.args) == 2):
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                if names & {"LayerSpec", "Network"} and path.name not in allowed:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []
