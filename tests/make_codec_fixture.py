"""Writes tests/data/codec-fixture.jsonl.gz: what the codec wrote for a broad sample of events.

Run once at a reference commit (python -m tests.make_codec_fixture; ``--missing`` adds rows for
types added to the contract since, keeping every other row); tests/test_codec.py
rebuilds each event and compares today's output, byte for byte. The hash chains of stored
events depend on ``compact_json``, so its text must never change.

Each line holds one event as its parts (``fields``: the event without its unknown fields,
as ``to_dict`` wrote it; ``extra``: the unknown fields, in order, which may shadow known ones)
and what the codec wrote for it: ``compact`` (``to_dict()`` as compact JSON: its keys, their
order and its values), ``dump``, ``id`` and ``content_id``. The events are drawn with a fixed seed from the package's strategy
and from wider draws here (unknown fields of any JSON kind, some named like known fields,
moments with any UTC offset, line-break characters in text).
"""

from __future__ import annotations

import datetime as dt
import gzip
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import attrs
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from negotiation import EVENT_TYPES, Event, dump_event
from negotiation import strategies as nst

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "codec-fixture.jsonl.gz"

_TEXT = st.text(max_size=6) | st.sampled_from(["a\u2028b", "\x85", "\u2029", "\x00\x1f", '"\\', "é😀"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
_MOMENTS = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=_OFFSETS)


def record(event: Event) -> dict[str, Any]:
    """One fixture line: the event's parts and what the codec wrote for it."""
    return {
        "fields": attrs.evolve(event, extra={}).to_dict(),
        "extra": dict(event.extra),
        "compact": _compact_json(event),
        "dump": dump_event(event),
        "id": event.id,
        "content_id": event.content_id(),
    }


def _compact_json(event: Event) -> str:
    """compact_json where it lives (negotiation.events at the reference commit, then .codec)."""
    module = importlib.import_module(
        "negotiation.codec" if importlib.util.find_spec("negotiation.codec") else "negotiation.events"
    )
    text: str = module.compact_json(event)
    return text


def drawn(kind: str, examples: int) -> list[Event]:
    out: list[Event] = []
    names = [f.name for f in attrs.fields(EVENT_TYPES[kind]) if f.name != "extra"]
    extra_keys = _TEXT | st.sampled_from([*names, "type", "x-a", "x-b"])

    @seed(20261206)
    @settings(max_examples=examples, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        nst.events(kind),
        st.none() | st.dictionaries(extra_keys, _JSON, max_size=3),
        st.none() | _MOMENTS,
        st.none() | _TEXT.filter(lambda s: bool(s.strip())),
    )
    def collect(event: Event, extra: dict[str, Any] | None, recorded: dt.datetime | None, note: str | None) -> None:
        changes: dict[str, Any] = {}
        if extra is not None:
            changes["extra"] = extra
        if recorded is not None:
            changes["recorded"] = recorded
        if note is not None:
            changes["note"] = note
            changes["negotiation"] = note
        out.append(attrs.evolve(event, **changes) if changes else event)

    collect()
    return out


def main(*, missing: bool = False) -> None:
    """Write the fixture; with ``missing``, keep its rows and add rows for the types it lacks
    (a type added to the contract since: the text written for the others must not change)."""
    lines = gzip.decompress(FIXTURE.read_bytes()).decode("utf-8").rstrip("\n").split("\n") if missing else []
    have = {json.loads(line)["fields"]["type"] for line in lines}
    lines += [
        json.dumps(record(event), ensure_ascii=False)
        for kind in EVENT_TYPES
        if kind not in have
        for event in drawn(kind, 120)
    ]
    text = "\n".join(lines) + "\n"
    FIXTURE.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    print(f"{len(lines)} events -> {FIXTURE}")


if __name__ == "__main__":
    main(missing=sys.argv[1:] == ["--missing"])
