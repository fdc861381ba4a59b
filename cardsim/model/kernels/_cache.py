"""numba's on-disk cache for this package, stamped with every file of the package.

numba compiles the compiled functions a kernel calls into the kernel itself, but stamps its cache
with the kernel's own file only: a kernel in ``plans.py`` would go on running the old
``draws.uniform`` after ``draws.py`` changed. :class:`KernelCacheLocator` stamps the cache of
every function here with the contents of all the package's files, so a change to any of them
recompiles them all. It is put before numba's own locators for this package's files only; where
the package's ``__pycache__`` cannot be written (an installed, read-only tree, whose files do not
change) numba's user-wide cache takes over with its usual stamp.
"""

from __future__ import annotations

import hashlib
import os

from numba.core import caching

HERE = os.path.dirname(os.path.abspath(__file__))
# numba 0.68 dropped the leading underscores of these names
_InTree = getattr(caching, "InTreeCacheLocator", None) or caching._InTreeCacheLocator
_Impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl


def package_stamp() -> str:
    """SHA-256 over the package's source files, by name, in name order."""
    h = hashlib.sha256()
    for name in sorted(f for f in os.listdir(HERE) if f.endswith(".py")):
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()


class KernelCacheLocator(_InTree):
    """numba's in-tree cache locator, for this package's functions, with the package's stamp."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.dirname(os.path.abspath(py_file)) != HERE:
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        return package_stamp()


def install() -> None:
    """Put :class:`KernelCacheLocator` first among numba's cache locators (once)."""
    classes = _Impl._locator_classes
    if KernelCacheLocator not in classes:
        classes.insert(0, KernelCacheLocator)
