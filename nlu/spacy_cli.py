"""spaCy without its command line until something asks for it.

`import spacy` runs `from .cli.info import info`, and `spacy.cli` imports every spaCy
command: weasel, requests, urllib3, jinja2, the project and download tools. None of it takes
part in loading or running a pipeline, yet it costs each process with the model about 12 MB.
`defer()` puts a finder in front of the import system that, only while `spacy` itself is
being initialised, gives `spacy.cli` and `spacy.cli.info` as placeholders. The first use of
anything in them (`spacy.info()`, `from spacy.cli import download`, an attribute of either)
runs the real modules in place, so every behaviour of spaCy stays as it was; an import of
`spacy.cli` by name outside spaCy's own start-up is never intercepted.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

DEFERRED = ("spacy.cli", "spacy.cli.info")


_PLACEHOLDER = "__switchboard_placeholder__"


def _complete(module: ModuleType) -> ModuleType:
    """Run the real code of a placeholder in the module object itself (once)."""
    if module.__dict__.pop(_PLACEHOLDER, False):
        module.__dict__.pop("__getattr__", None)
        importlib.reload(module)
    return module


def _module_getattr(module: ModuleType) -> Any:
    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_complete(module), name)

    return __getattr__


def _info(module: ModuleType) -> Any:
    def info(*args: Any, **kwargs: Any) -> Any:
        real = getattr(_complete(module), "info")  # noqa: B009
        return real(*args, **kwargs)

    return info


class _Placeholder(importlib.abc.Loader):
    """Makes a module that holds nothing of its own until first used."""

    def __init__(self, real: importlib.machinery.ModuleSpec) -> None:
        self.real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        # `importlib.reload` later finds the real spec again and runs its code here.
        module.__spec__ = self.real
        module.__loader__ = self.real.loader
        module.__file__ = self.real.origin
        if self.real.submodule_search_locations is not None:
            module.__path__ = list(self.real.submodule_search_locations)
        module.__dict__[_PLACEHOLDER] = True
        module.__dict__["__getattr__"] = _module_getattr(module)
        if module.__name__ == "spacy.cli.info":
            # `spacy/__init__.py` binds `spacy.info` to this name at start-up.
            module.__dict__["info"] = _info(module)


class _DeferSpacyCli(importlib.abc.MetaPathFinder):
    """Placeholders for `spacy.cli` and `spacy.cli.info` while `spacy` initialises."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in DEFERRED:
            return None
        spacy = sys.modules.get("spacy")
        starting = spacy is not None and getattr(spacy.__spec__, "_initializing", False)
        if not starting:
            return None
        real = importlib.machinery.PathFinder.find_spec(fullname, path)
        if real is None:
            return None
        return importlib.machinery.ModuleSpec(
            fullname,
            _Placeholder(real),
            origin=real.origin,
            is_package=real.submodule_search_locations is not None,
        )


def defer() -> None:
    """Install the finder once; it has effect only if `spacy` is not imported yet."""
    if not any(isinstance(f, _DeferSpacyCli) for f in sys.meta_path):
        sys.meta_path.insert(0, _DeferSpacyCli())
