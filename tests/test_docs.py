"""The pages that describe the code stay true to it: README's "Layout" and DEVELOPERS.md's layer order."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src" / "prognos"
MODULE = re.compile(r"\b\w+\.py\b")


def layout() -> dict[str, set[str]]:
    """Modules named in README's Layout block, by package ('' for the top level)."""
    text = (ROOT / "README.md").read_text().split("## Layout", 1)[1]
    block = text.split("```", 2)[1].splitlines()
    named: dict[str, set[str]] = {}
    package = ""
    for line in block[2:]:  # the fence's language line and ``src/prognos/``
        if not line.startswith(" "):
            break  # tests/, benchmarks/: outside the package
        if not line.startswith("   "):  # a new entry: a package (``name/``) or top-level modules
            first = line.split()[0]
            package = first.rstrip("/") if first.endswith("/") else ""
        named.setdefault(package, set()).update(MODULE.findall(line))
    return named


def tree() -> dict[str, set[str]]:
    """Every package of src/prognos and its modules (``__init__.py`` left to the writer's choice)."""
    found: dict[str, set[str]] = {}
    for init in SRC.rglob("__init__.py"):
        package = init.parent.relative_to(SRC).as_posix()
        found[package if package != "." else ""] = {p.name for p in init.parent.glob("*.py")}
    return found


def test_every_package_and_module_named_in_the_layout_exists():
    actual = tree()
    for package, modules in layout().items():
        assert package in actual, f"README names {package}/, which is not a package"
        missing = modules - actual[package]
        assert not missing, f"README names {sorted(missing)} in {package or 'src/prognos'}/, which do not exist"


def test_every_package_and_module_is_named_in_the_layout():
    named = layout()
    for package, modules in tree().items():
        assert package in named, f"{package}/ is missing from README's Layout"
        unnamed = modules - named[package] - {"__init__.py"}
        assert not unnamed, f"{sorted(unnamed)} in {package or 'src/prognos'}/ missing from README's Layout"


def test_the_layer_order_in_developers_is_the_one_lint_enforces():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    layers = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")["layers"]
    text = (ROOT / "DEVELOPERS.md").read_text()
    order = text.split("The layers, top to bottom", 1)[1].split("(`a | b`", 1)[0]
    assert re.findall(r"`([\w |]+)`", order.split(":", 1)[1]) == layers


def test_paths_named_in_developers_exist():
    text = (ROOT / "DEVELOPERS.md").read_text()
    for path in re.findall(r"`((?:tests/)?[\w/]+\.py)`", text):
        assert (ROOT / path).exists() or (SRC / path).exists(), f"DEVELOPERS.md names {path}, which does not exist"
