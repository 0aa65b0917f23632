"""Live delivery: following the store's events, and named subscribers with checkpoints.

:class:`Delivery` is the part of :class:`~negotiation.store.base.EventStore` that hands stored
events on: :meth:`~Delivery.follow` yields them in position order as they come, and
:meth:`~Delivery.subscribe` delivers them to a handler exactly once per named subscriber, the
handler's writes and the subscriber's checkpoint committed together.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from negotiation.store.base import StoredEvent, Transaction

__all__ = ["Delivery", "Handler"]

#: A named subscriber's handler: called once per event with the backend's projection target
#: (for SQLite a ``sqlite_utils.Database`` inside the transaction that moves the checkpoint;
#: for the memory store the subscriber's own dict).
Handler = Callable[["StoredEvent", Any], None]


class Delivery(abc.ABC):
    """Following and subscribing, on what a store provides (its transactions and change token)."""

    @abc.abstractmethod
    def _write(self, doing: str) -> AbstractContextManager[Transaction]:
        """One write transaction (exclusive among writers); rolled back on any exception."""

    @abc.abstractmethod
    def _read(self, doing: str) -> AbstractContextManager[Transaction]:
        """One read transaction (a consistent view)."""

    @abc.abstractmethod
    def _change_token(self) -> object:
        """Something that changes whenever anyone commits (for follow's polling)."""

    @abc.abstractmethod
    def _wait(self, token: object, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the change token to move on."""

    @abc.abstractmethod
    def read_all(self, after_position: int = 0, limit: int | None = None) -> list[StoredEvent]:
        """Every event after ``after_position``, in position order (at most ``limit``)."""

    def follow(
        self, after_position: int = 0, *, idle_timeout: float | None = None, poll_interval: float = 0.05
    ) -> Iterator[StoredEvent]:
        """Every event after ``after_position`` in position order: those stored, then new ones live.

        Events appended by other processes are seen too (the SQLite store polls a counter that
        SQLite moves on every commit, which costs no read of the events). The iterator stops
        after ``idle_timeout`` seconds without a new event (never, by default).
        """
        position = after_position
        idle_since = time.monotonic()
        while True:
            token = self._change_token()
            batch = self.read_all(after_position=position, limit=500)
            if batch:
                for stored in batch:
                    position = stored.position
                    yield stored
                idle_since = time.monotonic()
                continue
            if not self._idle(token, idle_since, idle_timeout, poll_interval):
                return

    def subscribe(
        self,
        name: str,
        handler: Handler,
        *,
        live: bool = False,
        idle_timeout: float | None = None,
        batch_size: int = 100,
        poll_interval: float = 0.05,
    ) -> int:
        """Deliver every event after the named subscriber's checkpoint to ``handler``, exactly once.

        Events go in position order, in batches: each batch is one transaction in which the
        handler writes its projection (``handler(stored_event, target)``, see :data:`Handler`)
        and the checkpoint moves past the batch. If the handler raises or the process dies,
        both are rolled back and the batch is delivered again next time. Returns how many
        events were handled. With ``live``, waits for new events until ``idle_timeout``
        seconds pass without one (forever by default).
        """
        if not isinstance(name, str) or not name:
            msg = f"name={name!r} must be a non-empty string"
            raise ValueError(msg)
        if batch_size < 1:
            msg = f"batch_size={batch_size!r} must be >= 1"
            raise ValueError(msg)
        handled = 0
        idle_since = time.monotonic()
        while True:
            token = self._change_token()
            with self._write("delivering to a subscriber") as tx:
                target = tx.projection(name)
                batch = tx.read_all(tx.checkpoint(name), batch_size)
                for stored in batch:
                    handler(stored, target)
                if batch:
                    tx.put_checkpoint(name, batch[-1].position)
            handled += len(batch)
            if batch:
                idle_since = time.monotonic()
                continue
            if not live or not self._idle(token, idle_since, idle_timeout, poll_interval):
                return handled

    def _idle(self, token: object, idle_since: float, idle_timeout: float | None, poll_interval: float) -> bool:
        """Wait for a commit, at most ``poll_interval`` or what is left of ``idle_timeout``; False
        (without waiting) once ``idle_timeout`` seconds have passed since ``idle_since``."""
        idle = time.monotonic() - idle_since
        if idle_timeout is not None and idle >= idle_timeout:
            return False
        self._wait(token, poll_interval if idle_timeout is None else min(poll_interval, idle_timeout - idle))
        return True

    def checkpoint(self, name: str) -> int:
        """The position the named subscriber has handled up to (0 when new)."""
        with self._read("reading a checkpoint") as tx:
            return tx.checkpoint(name)
