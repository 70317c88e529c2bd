"""The dependency rule of ARCHITECTURE.md, checked on the source: which package may import which,
and no package imports another's private names."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mechanistic", "inference", "scenarios", "twin")
# package -> the project packages it may import
ALLOWED = {
    "mechanistic": set(),
    "inference": {"mechanistic"},
    "scenarios": {"mechanistic"},
    "twin": {"mechanistic", "inference", "scenarios"},
}


def _imports(path: Path):
    """(line, module, names) of every import in ``path``, including those inside functions."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, ()
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module, tuple(a.name for a in node.names)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_dependency_rule(package):
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module, names in _imports(path):
            top = module.split(".")[0]
            if top not in PACKAGES or top == package:
                continue
            where = f"{path.relative_to(ROOT)}:{line}"
            if top not in ALLOWED[package]:
                wrong.append(f"{where} imports {module} ({package} may import {sorted(ALLOWED[package])})")
            private = [p for p in module.split(".")[1:] if p.startswith("_")]
            private += [n for n in names if n.startswith("_")]
            if private:
                wrong.append(f"{where} imports private {private} from {module}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("layer", ["mechanistic", "inference", "scenarios"])
def test_tests_of_a_lower_layer_do_not_import_an_upper_one(layer):
    wrong = []
    for path in sorted((ROOT / "tests" / layer).rglob("*.py")):
        for line, module, _ in _imports(path):
            top = module.split(".")[0]
            if top in PACKAGES and top != layer and top not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_no_lazily_exported_name_is_also_a_submodule():
    """``mechanistic`` exports its names lazily: a name that is also a submodule's (a function
    ``simulate`` in a module ``simulate``) would become the module once anything imports it."""
    import mechanistic

    modules = {p.stem for p in (ROOT / "mechanistic").glob("*.py")}
    assert not modules & set(mechanistic.__all__)
    assert callable(mechanistic.simulate) and callable(mechanistic.to_dataset)
    assert callable(mechanistic.simulate)  # still the function after its module was imported
