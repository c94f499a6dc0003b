"""``NamedTuple`` and ``Protocol`` for the client's modules, without ``import typing`` at run time.

``import typing``, and the first ``typing.NamedTuple`` class (it compiles each field's annotation),
cost about 5 ms of CPU on a slow machine: a quarter of ``import pushlog``'s 20 ms budget
(docs/performance.md), for two names. Type checkers see the real ``typing`` ones. At run time:

* ``NamedTuple`` makes :func:`collections.namedtuple` from the class body's annotated fields (in order,
  trailing defaults kept) and puts the body's methods, properties and docstring on it, as
  ``typing.NamedTuple`` does (the body's ``__annotations__`` is a dict of strings: every client module
  starts with ``from __future__ import annotations``);
* ``Protocol`` is a plain base class: client protocols are structural types for the checker, never
  subclassed or checked with ``isinstance``.

Every other ``typing`` name the client uses (``Any``, ``Final``, ...) appears in annotations only,
which ``from __future__ import annotations`` leaves as text: modules import them under
``if TYPE_CHECKING:``, with ``TYPE_CHECKING = False`` defined in the module (mypy and ruff read the name).
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
    from typing import Protocol as Protocol
else:
    #: Namespace entries that are not copied onto the tuple class (it has its own, or they are fields).
    _OWN = frozenset({"__module__", "__qualname__", "__dict__", "__weakref__", "__classcell__"})

    class _NamedTupleMeta(type):
        def __new__(mcls, name, bases, namespace):
            fields = tuple(namespace.get("__annotations__", {}))
            defaults = [namespace[field] for field in fields if field in namespace]
            if any(field not in namespace for field in fields[len(fields) - len(defaults) :]):
                raise TypeError(f"{name}: a field without a default follows one with a default")
            cls = collections.namedtuple(name, fields, defaults=defaults, module=namespace["__module__"])
            cls.__qualname__ = namespace.get("__qualname__", name)
            for key, value in namespace.items():
                if key not in fields and key not in _OWN:
                    setattr(cls, key, value)
            return cls

    NamedTuple = type.__new__(_NamedTupleMeta, "NamedTuple", (), {"__module__": __name__})

    class Protocol:
        __slots__ = ()


__all__ = ["TYPE_CHECKING", "NamedTuple", "Protocol"]
