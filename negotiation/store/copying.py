"""Copying a whole store into an empty one: SQLite to PostgreSQL and back.

:func:`copy_store` copies the rows as they are stored (positions, versions, JSON and hashes),
so the copy's hash chains are the source's; the read model and the usable snapshots go with
them. Everything is written in one transaction of the target: all or nothing. The chains are
checked as the rows stream through, and the target is verified after the commit.
Subscribers' checkpoints are not copied: their projections live in the source's database,
so a subscriber starts afresh on the copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import attrs

from negotiation.errors import StoreError
from negotiation.store.base import EventStore
from negotiation.store.chain import Row, Verification, verify_rows

__all__ = ["CHUNK", "Copied", "copy_store"]

#: Rows sent to the target in one insert.
CHUNK = 5000


@attrs.frozen(kw_only=True)
class Copied:
    """What :func:`copy_store` copied, and what verifying the target found.

    Attributes:
        events: how many events.
        negotiations: how many negotiations (rows of the read model).
        snapshots: how many snapshots (those usable under today's rules).
        verification: the target's :meth:`~EventStore.verify` after the copy.
    """

    events: int
    negotiations: int
    snapshots: int
    verification: Verification


def _name(store: EventStore) -> str:
    return str(getattr(store, "path", None) or store)


def copy_store(
    source: EventStore,
    target: EventStore,
    *,
    progress: Callable[[int], None] | None = None,
    verify_progress: Callable[[str, int, int], None] | None = None,
) -> Copied:
    """Copy every event of ``source`` into the empty store ``target``, all or nothing, and verify it.

    ``progress`` is called with the number of events copied so far; ``verify_progress`` as
    :meth:`~negotiation.store.base.EventStore.verify` calls its ``progress``, while the copy
    is verified.

    Raises:
        StoreError: the target holds events already; a hash chain of the source does not
            match (nothing is written); a store cannot be read or written; or the target
            does not verify after the copy (which would be a bug).
    """
    if source is target:
        msg = f"{_name(source)}: source and target are the same store"
        raise StoreError(msg)
    with source._read("copying the store") as stx:
        summaries = stx.summaries()
        snapshots = [(s.id, snap) for s in summaries if (snap := stx.snapshot(s.id)) is not None]
        with target._write("copying a store into it") as ttx:
            held, _ = ttx.head()
            if held:
                msg = f"{_name(target)} holds {held} events already: copy into an empty store"
                raise StoreError(msg)
            sent: list[int] = [0]

            def inserted(rows: Iterable[Row]) -> Iterator[Row]:
                chunk: list[Row] = []
                for row in rows:
                    chunk.append(row)
                    yield row
                    if len(chunk) >= CHUNK:
                        ttx.insert(chunk)
                        sent[0] += len(chunk)
                        chunk = []
                        if progress is not None:
                            progress(sent[0])
                if chunk:
                    ttx.insert(chunk)
                    sent[0] += len(chunk)
                    if progress is not None:
                        progress(sent[0])

            heads = {s.id: (s.version, s.head) for s in summaries}
            head = stx.head()
            checked = verify_rows(inserted(stx.rows()), heads, recorded_head=head)
            if not checked.ok:
                msg = f"{_name(source)} does not verify, nothing was copied: {checked}"
                raise StoreError(msg)
            ttx.put_head(*head)  # the same rows: the same store head
            for summary in summaries:
                ttx.put_summary(summary)
            for negotiation, (version, data) in snapshots:
                ttx.put_snapshot(negotiation, version, data)
    verification = target.verify(progress=verify_progress)
    if not verification.ok:
        msg = f"{_name(target)}: the copy does not verify: {verification}"
        raise StoreError(msg)
    return Copied(
        events=checked.events, negotiations=len(summaries), snapshots=len(snapshots), verification=verification
    )
