"""Lets the stock ryu 4.34 `ryu-manager` start with a current eventlet on Python 3.11.

`ryu.app.wsgi` does `from eventlet.wsgi import ALREADY_HANDLED`, and ryu-manager imports that module
before any application is loaded. eventlet removed the name in 0.30.3, and the last release that has
it does not import on Python 3.11. eventlet >= 0.30.3 treats any iterable a WSGI app returns as the
body, so an empty tuple is the right stand-in (None breaks closing websockets).

This module is imported at interpreter start by `lbctl_ryu_compat.pth` (installed with lbctl). It
only adds an import hook: when `eventlet.wsgi` is first imported, the name is added if missing.
Nothing is imported eagerly and no installed file is modified.
"""
import importlib.abc
import importlib.machinery
import sys

TARGET = "eventlet.wsgi"


class _AddAlreadyHandled(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self):
        self._loader = None

    def find_spec(self, fullname, path, target=None):
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        self._loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        if not hasattr(module, "ALREADY_HANDLED"):
            module.ALREADY_HANDLED = ()


def install():
    if not any(isinstance(f, _AddAlreadyHandled) for f in sys.meta_path):
        sys.meta_path.insert(0, _AddAlreadyHandled())
