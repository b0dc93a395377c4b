"""The .pyi stubs ship with the package and describe the compiled module that is really there."""
import ast
import inspect
from pathlib import Path

import berrykit
from berrykit import _core


def _stub_tree():
    path = Path(berrykit.__file__).parent / "_core.pyi"
    assert path.is_file(), "berrykit/_core.pyi is not installed next to the module"
    assert (Path(berrykit.__file__).parent / "py.typed").is_file()
    return ast.parse(path.read_text())


def test_every_stubbed_class_and_method_exists_in_the_module():
    for node in _stub_tree().body:
        if isinstance(node, ast.ClassDef):
            cls = getattr(_core, node.name, None)
            assert cls is not None, f"_core has no class {node.name}"
            for item in node.body:
                name = getattr(item, "name", None) or getattr(getattr(item, "target", None), "id", None)
                if name:
                    assert hasattr(cls, name), f"_core.{node.name} has no {name}"
        elif isinstance(node, ast.FunctionDef):
            assert hasattr(_core, node.name), f"_core has no function {node.name}"


def test_every_public_name_of_the_module_is_stubbed():
    stubbed = {}
    for node in _stub_tree().body:
        if isinstance(node, ast.ClassDef):
            names = set()
            for item in node.body:
                name = getattr(item, "name", None) or getattr(getattr(item, "target", None), "id", None)
                if name:
                    names.add(name)
            stubbed[node.name] = names
        elif isinstance(node, ast.FunctionDef):
            stubbed[node.name] = set()
    for name, value in vars(_core).items():
        if name.startswith("_"):
            continue
        assert name in stubbed, f"_core.{name} has no stub"
        if inspect.isclass(value):
            own = {n for n in vars(value) if not n.startswith("_")}
            missing = own - stubbed[name]
            assert not missing, f"_core.{name} members without stubs: {sorted(missing)}"
