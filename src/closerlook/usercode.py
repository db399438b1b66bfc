"""Code a config names: a function ``module:name`` in the user's own file, for a model
factory (``arch: python``) or a learning-rate schedule (``kind: python``).

The module file is looked for next to the config file(s), then on ``sys.path`` (which holds
PYTHONPATH), and recorded in the validated config as the entry's ``source``: the workflow
lists that file as an input of every rule that runs it (editing it reruns them and what
depends on them, nothing else), and each job imports that same file. Importing runs the
user's module — code the config names — never code stored in a data file.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any


class UserCodeError(ValueError):
    """A ``module:name`` reference that cannot be found, imported or called; one line."""


def split_reference(ref: str) -> tuple[str, str]:
    """(module, name) of ``"my_nets:build"``; dotted module names are allowed."""
    module, sep, name = ref.partition(":")
    parts = module.split(".")
    if not sep or not name.isidentifier() or not all(p.isidentifier() for p in parts):
        raise UserCodeError(f"{ref!r} is not module:function (e.g. my_nets:build)")
    return module, name


def find_source(module: str, search: Sequence[str | Path]) -> Path | None:
    """The file of `module`: ``module.py`` (or a package's ``__init__.py``) in the first
    folder of `search`, then of ``sys.path``, that has one."""
    relative = Path(*module.split("."))
    for folder in [*map(Path, search), *(Path(p or ".") for p in sys.path)]:
        for candidate in (folder / relative.with_suffix(".py"), folder / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def shown_path(path: Path) -> str:
    """`path` relative to the working directory where it lies inside it, else absolute."""
    path = path.resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _root(module: str, path: Path) -> Path:
    """The folder from which `module` imports as `path`."""
    depth = len(module.split(".")) + (path.name == "__init__.py")
    return path.resolve().parents[depth - 1]


def import_source(module: str, source: str | Path) -> ModuleType:
    """Import `module` from the file `source` (its folder first on sys.path, so that the
    module's own imports of neighbouring files work); a module of the same name imported
    from another file is replaced."""
    path = Path(source).resolve()
    if not path.is_file():
        raise UserCodeError(f"the module file {source} of {module!r} does not exist")
    loaded = sys.modules.get(module)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == path:
        return loaded
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        del sys.modules[name]
    root = str(_root(module, path))
    if root not in sys.path:
        sys.path.insert(0, root)
    importlib.invalidate_caches()
    return importlib.import_module(module)


def load_function(ref: str, source: str | Path | None = None) -> Callable[..., Any]:
    """The callable ``module:name`` refers to, imported from `source` (else from sys.path);
    any failure is one :class:`UserCodeError` line naming the reference."""
    module, name = split_reference(ref)
    try:
        mod = import_source(module, source) if source else importlib.import_module(module)
    except UserCodeError:
        raise
    except Exception as exc:  # the user's module may raise anything while importing
        where = f" ({source})" if source else ""
        raise UserCodeError(f"cannot import {ref}{where}: {one_line(exc)}") from exc
    function = getattr(mod, name, None)
    if not callable(function):
        raise UserCodeError(f"{ref}: module {module!r} ({mod.__file__}) has no function {name!r}")
    return function


def one_line(exc: BaseException) -> str:
    """``Type: message`` of an exception, its first line only."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def search_folders(config_paths: Sequence[str | Path]) -> list[Path]:
    """Where a config's modules are looked for first: the folders of its files (in order,
    once each), else the working directory."""
    folders = dict.fromkeys(Path(os.path.dirname(p) or ".") for p in config_paths)
    return list(folders) or [Path(".")]
