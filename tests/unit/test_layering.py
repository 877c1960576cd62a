"""No import runs back up a layer: lambdas and local are the ground, state_machine above, provisioner, then bench.

Read from each module's own imports (at the top and inside functions), so a lazy import counts too.
"""

import ast
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"lambdas": 0, "local": 0, "state_machine": 1, "provisioner": 2, "bench": 3}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & LAYERS.keys()


def test_no_module_imports_a_layer_above_its_own_or_the_other_ground_package():
    upward = []
    for package, layer in LAYERS.items():
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            for imported in imported_packages(path) - {package}:
                if LAYERS[imported] >= layer:
                    upward.append(f"{path.relative_to(PROJECT_ROOT)} imports {imported}")
    assert upward == []


def test_the_layering_test_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from provisioner.cli import main\n    import local.emulator\n")
    assert imported_packages(module) == {"provisioner", "local"}
