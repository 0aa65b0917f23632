"""Lazy containers: a list, a set and a dict whose first part is read on first real use.

A fold restored from a snapshot (:mod:`negotiation.snapshot`) holds these in place of its
plain containers. Folding one more event only appends to the lists, adds to the sets and
looks up or sets single keys; these containers do that without reading what the snapshot
covers (a lookup builds just the record it needs). Anything else (iteration, comparison,
copying, other mutations) first materializes the whole container, after which it behaves
as the plain one it is a subclass of, so the fold's types hold.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, SupportsIndex, TypeVar, cast

from negotiation.errors import StoreError

__all__ = [
    "DICT_MATERIALIZING",
    "FILL_LOCK",
    "MISSING",
    "LazyDict",
    "LazyList",
    "LazySet",
    "gc_paused",
    "keys_of",
    "materializing",
]

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a burst of containers is built.

    Decoding a section creates tens of thousands of lists and records at once; each of them
    counts towards the next collection, and a full collection walks every object the process
    holds (a store's worth of events). Reference counting still frees what is dropped.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


MISSING: Any = object()

#: Materializing a container mutates it: one lock for all of them keeps a state that several
#: threads read from filling the same container twice. Uncontended, it costs next to nothing.
FILL_LOCK = threading.RLock()


def materializing(cls: type[Any], names: Iterable[str]) -> None:
    for name in names:
        base = getattr(cls.__mro__[1], name)

        def method(self: Any, *args: Any, __base: Any = base, **kwargs: Any) -> Any:
            self._materialize()
            return __base(self, *args, **kwargs)

        method.__name__ = method.__qualname__ = name
        setattr(cls, name, method)


class LazyList(list[T]):
    """A list whose first ``count`` items are read on first look; ``len`` and ``append`` do not look."""

    __slots__ = ("_count", "_load", "_raw")

    def __init__(self, count: int, load: Callable[[], list[T]], raw: Callable[[], Any] | None = None) -> None:
        super().__init__()
        self._count = count
        self._load: Callable[[], list[T]] | None = load
        self._raw = raw  # the prefix as the snapshot holds it, for a snapshot of this snapshot

    def _materialize(self) -> None:
        with FILL_LOCK:
            self._fill()

    def _fill(self) -> None:
        load = self._load
        if load is not None:
            with gc_paused():
                items = load()
            if len(items) != self._count:
                msg = f"snapshot section holds {len(items)} items, expected {self._count}"
                raise StoreError(msg)
            list.__setitem__(self, slice(0, 0), items)
            self._load = None

    def __len__(self) -> int:
        return list.__len__(self) + (self._count if self._load is not None else 0)

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (list, (list(self),))


materializing(
    LazyList,
    (
        "__iter__",
        "__getitem__",
        "__setitem__",
        "__delitem__",
        "__contains__",
        "__reversed__",
        "__eq__",
        "__ne__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__repr__",
        "__add__",
        "__mul__",
        "__rmul__",
        "__iadd__",
        "__imul__",
        "index",
        "count",
        "copy",
        "insert",
        "pop",
        "remove",
        "sort",
        "reverse",
        "clear",
    ),
)


class LazySet(set[T]):
    """A set whose snapshot-covered members are read on first look; ``len`` and ``add`` do not look.

    Used for ids, which the fold always looks up before adding: a member added before the
    set is read is never one of those it will read. With ``contains``, ``in`` asks it
    instead of reading the members (an indexed lookup in the store, for ids).
    """

    __slots__ = ("_contains", "_count", "_load")

    def __init__(
        self, count: int, load: Callable[[], Iterable[T]], contains: Callable[[T], bool] | None = None
    ) -> None:
        super().__init__()
        self._count = count
        self._load: Callable[[], Iterable[T]] | None = load
        self._contains = contains

    def __contains__(self, member: object) -> bool:
        if set.__contains__(self, member):
            return True
        if self._load is None:
            return False
        if self._contains is not None:
            return self._contains(cast(T, member))
        self._materialize()
        return set.__contains__(self, member)

    def _materialize(self) -> None:
        with FILL_LOCK:
            self._fill()

    def _fill(self) -> None:
        load = self._load
        if load is not None:
            with gc_paused():
                set.update(self, load())
            self._load = None

    def __len__(self) -> int:
        return set.__len__(self) + (self._count if self._load is not None else 0)

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (set, (set(self),))


materializing(
    LazySet,
    (
        "__iter__",
        "__eq__",
        "__ne__",
        "__le__",
        "__lt__",
        "__ge__",
        "__gt__",
        "__or__",
        "__ror__",
        "__and__",
        "__rand__",
        "__sub__",
        "__rsub__",
        "__xor__",
        "__rxor__",
        "__ior__",
        "__iand__",
        "__isub__",
        "__ixor__",
        "__repr__",
        "copy",
        "difference",
        "difference_update",
        "discard",
        "intersection",
        "intersection_update",
        "isdisjoint",
        "issubset",
        "issuperset",
        "pop",
        "remove",
        "symmetric_difference",
        "symmetric_difference_update",
        "union",
        "update",
        "clear",
    ),
)


class LazyDict(dict[K, V]):
    """A dict whose snapshot-covered entries are built from their raw form on first use.

    ``get``, ``[]``, ``in``, assignment, ``pop`` and ``del`` touch one key (building one
    record); ``len`` is known; anything else builds every entry, in the original order, new
    keys last (a key removed and set again counts as new, as in a plain dict).

    ``load`` returns every raw entry by key, in order; ``build`` makes an entry's value of its
    raw form; ``find`` (optional) returns one raw entry, or :data:`MISSING`, without loading
    the others (by default it loads them all).
    """

    __slots__ = ("_build", "_count", "_find", "_lazy", "_load", "_made", "_prepare", "_raw", "_removed")

    def __init__(
        self,
        count: int,
        load: Callable[[], dict[K, Any]],
        build: Callable[[Any], V],
        prepare: Callable[[], object] | None = None,
        find: Callable[[K], Any] | None = None,
    ) -> None:
        super().__init__()
        self._count = count
        self._load = load
        self._build = build
        self._prepare = prepare  # run once before building every entry (e.g. read all events at once)
        self._find = find
        self._raw: dict[K, Any] | None = None
        self._made: dict[K, V] = {}  # entries of the snapshot built (or reassigned) so far
        self._removed: set[K] = set()  # entries of the snapshot popped or deleted
        self._lazy = True

    def _raw_map(self) -> dict[K, Any]:
        if self._raw is None:
            with FILL_LOCK:
                return self._decode_raw()
        return self._raw

    def _decode_raw(self) -> dict[K, Any]:
        if self._raw is None:
            raw = self._load()
            if len(raw) != self._count:
                msg = f"snapshot section holds {len(raw)} entries, expected {self._count}"
                raise StoreError(msg)
            self._raw = raw
        return self._raw

    def _find_raw(self, key: K) -> Any:
        """The snapshot's raw entry for ``key`` (removed or not), or MISSING."""
        if self._find is not None and self._raw is None:
            return self._find(key)
        return self._raw_map().get(key, MISSING)

    def _lookup(self, key: K) -> Any:
        """The value of ``key``, or MISSING."""
        value = dict.get(self, key, MISSING)
        if value is not MISSING or not self._lazy:
            return value
        return self._from_snapshot(key)

    def _from_snapshot(self, key: K) -> Any:
        """The value of a snapshot's entry (built on first use), or MISSING."""
        value = self._made.get(key, MISSING)
        if value is MISSING and key not in self._removed:
            raw = self._find(key) if self._find is not None and self._raw is None else self._find_raw(key)
            if raw is not MISSING:
                value = self._made[key] = self._build(raw)
        return value

    def _materialize(self) -> None:
        with FILL_LOCK:
            self._fill()

    def _fill(self) -> None:
        if self._lazy:
            raw, made, removed = self._raw_map(), self._made, self._removed
            if self._prepare is not None and len(made) + len(removed) < len(raw):
                self._prepare()
            with gc_paused():
                # every entry built in one pass (the few built already are then put back in
                # their place), the snapshot's removed ones dropped, the new ones last
                entries = dict(zip(raw, map(self._build, raw.values()), strict=True))
                for key in removed:
                    del entries[key]
                entries.update(made)
                entries.update(dict.items(self))
                dict.clear(self)
                dict.update(self, entries)
            self._lazy, self._raw, self._made, self._removed = False, None, {}, set()

    def setdefault(self, key: K, default: Any = None) -> Any:
        value = self._lookup(key)
        if value is MISSING:
            self[key] = default
            return default
        return value

    # the methods the fold calls on every event look at the dict itself first, inline

    def get(self, key: K, default: Any = None) -> Any:
        value = dict.get(self, key, MISSING)
        if value is MISSING and self._lazy:
            value = self._from_snapshot(key)
        return default if value is MISSING else value

    def __getitem__(self, key: K) -> V:
        value = dict.get(self, key, MISSING)
        if value is MISSING and self._lazy:
            value = self._from_snapshot(key)
        if value is MISSING:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or (self._lazy and self._from_snapshot(key) is not MISSING)  # type: ignore[arg-type]

    def __setitem__(self, key: K, value: V) -> None:
        if self._lazy and not dict.__contains__(self, key):
            made = self._made
            if key in made or (
                key not in self._removed
                and (self._find(key) if self._find is not None and self._raw is None else self._find_raw(key))
                is not MISSING
            ):
                made[key] = value  # an entry of the snapshot keeps its place
                return
        dict.__setitem__(self, key, value)

    def pop(self, key: K, default: Any = MISSING) -> Any:
        if self._lazy and not dict.__contains__(self, key):
            value = self._lookup(key)
            if value is not MISSING:
                del self._made[key]
                self._removed.add(key)
                return value
            if default is MISSING:
                raise KeyError(key)
            return default
        if default is MISSING:
            return dict.pop(self, key)
        return dict.pop(self, key, default)

    def __delitem__(self, key: K) -> None:
        self.pop(key)

    def __len__(self) -> int:
        return dict.__len__(self) + (self._count - len(self._removed) if self._lazy else 0)

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (dict, (dict(self),))


DICT_MATERIALIZING = (
    "__iter__",
    "__delitem__",
    "__eq__",
    "__ne__",
    "__repr__",
    "__or__",
    "__ror__",
    "__ior__",
    "__reversed__",
    "keys",
    "values",
    "items",
    "copy",
    "pop",
    "popitem",
    "update",
    "clear",
)
materializing(LazyDict, (name for name in DICT_MATERIALIZING if name not in ("__delitem__", "pop")))


def keys_of(mapping: dict[K, Any]) -> list[K]:
    """The keys of a dict, in order; a lazy dict's without building its values or materializing it.

    The keys of a :class:`LazyDict` come in the order it would have once materialized: the
    snapshot's entries not removed, then the others in the order they were set.
    """
    if isinstance(mapping, LazyDict) and mapping._lazy:
        raw = mapping._raw if mapping._raw is not None else mapping._load()  # not kept: nothing changes
        removed = mapping._removed
        keys = [key for key in raw if key not in removed] if removed else list(raw)
        keys += dict.keys(mapping)
        return keys
    return list(mapping)
