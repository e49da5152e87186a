"""numba's on-disk cache, keyed on every source file a kernel is compiled from.

numba decides whether a cached kernel is fresh from its own source file alone (a hash
of that file, in the stamp its cache index keeps) and the function's own bytecode. Two
things escape that check here: a kernel that inlines functions from another module
(`replay.sweep.sweep_nb` inlines `step_nb`'s parts from `engine.kernel_nb`), and module
constants frozen into the machine code (`engine.layout`'s column numbers,
`engine.params`' indices). After an upgrade that changed only those files, a sweep
would run the old kernel code from the cache, and disagree with replay without a word.

`key_on_sources(globals())`, called at the end of such a module, adds the digest of
every project file the module imports (followed transitively) to the stamp numba keeps
in each cache index: a change in any of them makes the index stale, numba recompiles
and overwrites it, as it does when the module's own file changes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LOG = logging.getLogger("clanka.numba")
PROJECT_PACKAGES = ("engine", "data", "replay", "strategies")
"""Top-level packages whose files can be compiled into a kernel."""


def _module_file(name: str, packages: tuple[str, ...]) -> Path | None:
    """The source file of a module in `packages` (None for anything else)."""
    if name.split(".")[0] not in packages:
        return None
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+([A-Za-z_][\w.]*)[ \t]+import\b|import[ \t]+([^#\n]+))",
                     re.MULTILINE)  # fmt: skip
"""An absolute import statement's module(s): a line scan, a hundredth of `ast.parse`'s
time (this runs at every import of a kernel module, so at every command's start)."""


def _imported(path: Path) -> set[str]:
    """Modules a file imports by absolute name (`import a.b`, `from a.b import c`).

    A name that only looks like an import (in a string, say) can add a file to the
    digest, which costs a needless recompile at worst, never a stale kernel.
    """
    out: set[str] = set()
    for m in _IMPORT.finditer(path.read_text(encoding="utf-8")):
        if m.group(1):
            out.add(m.group(1))
        else:
            out.update(p.split()[0] for p in m.group(2).split(",") if p.strip())
    return out


_SELF = Path(__file__).resolve()


def source_files(path: Path, packages: tuple[str, ...] = PROJECT_PACKAGES) -> list[Path]:
    """`path` and every project file it imports, transitively, in a stable order.

    This module is left out: a kernel module imports it to be keyed, not to compile it.
    """
    seen: dict[Path, None] = {_SELF: None}
    todo = [path.resolve()]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen[p] = None
        for name in sorted(_imported(p)):
            dep = _module_file(name, packages)
            if dep is not None:
                todo.append(dep.resolve())
    return sorted(p for p in seen if p != _SELF)


def sources_digest(path: Path, packages: tuple[str, ...] = PROJECT_PACKAGES) -> str:
    """sha256 over the contents of `path` and every project file it imports."""
    h = hashlib.sha256()
    for p in source_files(path, packages):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def key_on_sources(
    namespace: Mapping[str, Any], packages: tuple[str, ...] = PROJECT_PACKAGES
) -> int:
    """Key the cache of every cached kernel defined in a module on its sources' digest.

    `namespace` is the module's `globals()`; imports are followed within `packages`.
    Returns how many kernels were keyed. If numba's cache internals are not as expected
    (a numba release that changed them), the kernels keep numba's own key and a warning
    says so; `tests/test_nb_cache.py` fails first.
    """
    module = namespace["__name__"]
    digest = sources_digest(Path(namespace["__file__"]), packages)
    n = 0
    for obj in namespace.values():
        func = getattr(obj, "py_func", None)
        cache = getattr(obj, "_cache", None)
        if func is None or cache is None or func.__module__ != module:
            continue
        cache_file: Any = getattr(cache, "_cache_file", None)
        stamp = getattr(cache_file, "_source_stamp", None)
        if stamp is None:
            if cache_file is not None or type(cache).__name__ != "NullCache":
                LOG.warning("numba's cache layout changed: %s stays keyed on its own file only",
                            func.__qualname__)  # fmt: skip
            continue
        cache_file._source_stamp = (stamp, digest) if not _keyed(stamp) else (stamp[0], digest)
        n += 1
    return n


def _keyed(stamp: object) -> bool:
    """Whether a stamp already carries a digest (a module keyed twice, e.g. reloaded)."""
    return isinstance(stamp, tuple) and len(stamp) == 2 and isinstance(stamp[1], str)
