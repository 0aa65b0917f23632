"""Metadata for browsing a SQLite store with `Datasette <https://datasette.io>`_.

:func:`metadata` builds what ``datasette negotiations.db --metadata metadata.json`` reads
(``negotiation datasette-metadata DB`` prints it): a title and description, the license and
source, a title, description and column descriptions for each table of the store's schema
(:mod:`negotiation.store.schema`), the derived tables hidden (``snapshots``, ``checkpoints``,
``meta``: still reachable by URL), and three canned queries:

``negotiations_by_stage``
    each negotiation with its stage, in the stage machine's order, and how many are in that stage;
``owed_by_party``
    one row per owed move (``json_each`` over the read model's ``awaiting``), by party;
``negotiation_events``
    the events of one negotiation (the ``negotiation`` parameter) in log order, with the
    fields of their JSON (``json_extract`` of ``data``) as columns.

Nothing here imports Datasette: the metadata is a plain dict, which the ``datasette`` extra's
Datasette reads.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from negotiation.machine import Stage
from negotiation.store.schema import SCHEMA_VERSION

__all__ = ["EVENT_FIELDS", "LICENSE_URL", "QUERIES", "metadata"]

#: Where the license the package is under (MIT) is published.
LICENSE_URL = "https://opensource.org/license/mit"

#: The fields of an event's JSON that ``negotiation_events`` shows as columns, each with the
#: JSON path it is read from (``json_extract(data, path)``; a list comes as JSON text).
EVENT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("actor", "$.actor", "who made the move"),
    ("co_actors", "$.co_actors", "who made it with the actor (JSON array)"),
    ("parties", "$.parties", "the parties of a meeting or agreement (JSON array)"),
    ("to", "$.to", "whom a proposal or contact proposal is addressed to (JSON array)"),
    ("ref", "$.ref", "the id of the event it answers, signs, ratifies or otherwise names"),
    ("title", "$.title", "the title of a document or agreed text"),
    ("summary", "$.summary", "what a statement or report says"),
    ("reason", "$.reason", "the reason given (a suspension, a break-off, a retraction)"),
    ("note", "$.note", "the log keeper's note"),
    ("source_url", "$.source.url", "where the event is documented"),
)


def _stage_order() -> str:
    """The stages in the stage machine's order, as the rows of a SQL ``VALUES`` list."""
    return ", ".join(f"('{stage.value}', {rank})" for rank, stage in enumerate(Stage, start=1))


def _event_columns() -> str:
    return ",\n  ".join(f"json_extract(events.data, '{path}') AS [{name}]" for name, path, _ in EVENT_FIELDS)


#: The canned queries, by name: their SQL, title and description (Datasette's ``queries``).
QUERIES: dict[str, dict[str, Any]] = {
    "negotiations_by_stage": {
        "title": "Negotiations by stage",
        "description": (
            "Each negotiation with its current stage, in the order of the stage machine (then by id), "
            "with how many negotiations are in that stage, its version, the date of its latest event "
            "and how many moves it owes. From the read model, which every append updates."
        ),
        "sql": (
            f"WITH stages (stage, rank) AS (VALUES {_stage_order()})\n"
            "SELECT\n"
            "  negotiations.stage AS stage,\n"
            "  count(*) OVER (PARTITION BY negotiations.stage) AS in_stage,\n"
            "  negotiations.id AS negotiation,\n"
            "  negotiations.version AS version,\n"
            "  negotiations.last_event AS last_event,\n"
            "  negotiations.owed AS owed\n"
            "FROM negotiations LEFT JOIN stages ON stages.stage = negotiations.stage\n"
            "ORDER BY stages.rank, negotiations.id"
        ),
    },
    "owed_by_party": {
        "title": "Owed moves by party",
        "description": (
            "One row per move owed, by party (then negotiation, in the order the negotiation owes them): "
            "who owes it, in which negotiation, on which event (ref, with its type and title) and which "
            "event types would answer it (any one of types, a JSON array). Empty when nothing is owed."
        ),
        "sql": (
            "SELECT\n"
            "  json_extract(owed.value, '$.party') AS party,\n"
            "  negotiations.id AS negotiation,\n"
            "  json_extract(owed.value, '$.ref') AS ref,\n"
            "  json_extract(owed.value, '$.types') AS types,\n"
            "  (SELECT type FROM events WHERE events.negotiation = negotiations.id\n"
            "     AND events.id = json_extract(owed.value, '$.ref')) AS ref_type,\n"
            "  (SELECT json_extract(data, '$.title') FROM events WHERE events.negotiation = negotiations.id\n"
            "     AND events.id = json_extract(owed.value, '$.ref')) AS ref_title,\n"
            "  negotiations.stage AS stage\n"
            "FROM negotiations, json_each(negotiations.awaiting) AS owed\n"
            "ORDER BY party, negotiation, owed.key"
        ),
    },
    "negotiation_events": {
        "title": "The events of one negotiation",
        "description": (
            "The events of the negotiation named (its id, as in the negotiations table), in log order, "
            "with the fields of their JSON as columns. Retracted events are listed, and so is each "
            "retraction (an EventRetracted whose ref names the event it retracts)."
        ),
        "sql": (
            "SELECT\n"
            "  events.position AS position,\n"
            "  events.version AS version,\n"
            "  events.id AS id,\n"
            "  events.type AS type,\n"
            "  events.occurred AS occurred,\n"
            f"  {_event_columns()},\n"
            "  events.recorded AS recorded\n"
            "FROM events\n"
            "WHERE events.negotiation = :negotiation\n"
            "ORDER BY events.version"
        ),
    },
}

_TABLES: dict[str, dict[str, Any]] = {
    "events": {
        "title": "Events",
        "description": (
            "The log: every event of every negotiation, append-only (triggers refuse UPDATE and DELETE). "
            "data is the event as JSON; hash chains each negotiation's events."
        ),
        "sort": "position",
        "facets": ["type", "negotiation"],
        "columns": {
            "position": "its place in the whole store (1, 2, ... without gaps)",
            "negotiation": "the negotiation it belongs to",
            "version": "its place in the negotiation (1, 2, ...)",
            "id": "the event's id, unique in its negotiation",
            "type": "the event type (see docs/contract.md)",
            "occurred": "when it happened, as logged (a date, a month or a year)",
            "recorded": "when the store appended it (UTC): not part of the event nor of its hash",
            "data": "the event as JSON, as the codec writes it (what is hashed)",
            "hash": "SHA-256 of the previous event's hash in the negotiation and this event's JSON",
        },
    },
    "negotiations": {
        "title": "Negotiations",
        "description": (
            "The read model: one row per negotiation, as replaying its events gives it, updated with "
            "every append (negotiation verify checks it against a replay)."
        ),
        "sort": "id",
        "facets": ["stage"],
        "columns": {
            "id": "the negotiation",
            "stage": "its current stage",
            "version": "how many events it holds (retractions and retracted ones included)",
            "last_event": "the date of the latest event of its timeline, as logged",
            "owed": "how many moves are owed",
            "awaiting": "the moves owed: a JSON array of {party, types, ref} (party owes one of types on ref)",
            "head": "the hash of its last event",
            "updated": "when it was last appended to (UTC)",
        },
    },
    "snapshots": {
        "title": "Snapshots",
        "description": "The latest snapshot of each negotiation (what loading starts from); derived, hidden.",
        "hidden": True,
        "columns": {
            "negotiation": "the negotiation",
            "version": "the version it covers",
            "fingerprint": "the rules it was taken under",
            "taken": "when it was taken (UTC)",
            "data": "the snapshot: versioned JSON with a checksum",
        },
    },
    "checkpoints": {
        "title": "Checkpoints",
        "description": "How far each named subscriber got; hidden.",
        "hidden": True,
        "columns": {
            "name": "the subscriber",
            "position": "the position of the last event it handled",
            "updated": "when it moved (UTC)",
        },
    },
    "meta": {
        "title": "Store metadata",
        "description": "schema_version, head (the store head, POSITION:HASH) and rules (the fingerprint of the rules the read model was written under); hidden.",
        "hidden": True,
        "columns": {"key": "the setting", "value": "its value"},
    },
}


def _version() -> str:
    try:
        return importlib.metadata.version("negotiation")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def _source_url() -> str | None:
    """The project's URL from the package metadata (``[project.urls]``), if it names one."""
    try:
        urls = importlib.metadata.metadata("negotiation").get_all("Project-URL") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in ("source", "repository", "homepage") and url.strip():
            return url.strip()
    return None


def metadata(database_name: str) -> dict[str, Any]:
    """Datasette's metadata for a store that Datasette serves as ``database_name`` (the file's
    stem: ``negotiations`` for ``negotiations.db``).

    Returns a new dict each call (JSON-serialisable): top-level ``title``, ``description``,
    ``license``, ``license_url``, ``source`` (and ``source_url`` when the package metadata
    names the project's URL), and under ``databases[database_name]`` the ``tables`` and
    ``queries``.
    """
    source: dict[str, str] = {"source": f"negotiation {_version()} (schema version {SCHEMA_VERSION})"}
    url = _source_url()
    if url is not None:
        source["source_url"] = url
    return {
        "title": "Negotiations",
        "description": (
            "Negotiations as append-only event logs, replayed through a stage machine: "
            "a store written by `negotiation append`. The canned queries list the negotiations "
            "by stage, the moves owed by party, and the events of one negotiation."
        ),
        "license": "MIT",
        "license_url": LICENSE_URL,
        **source,
        "databases": {
            database_name: {
                "title": f"Negotiations in {database_name}",
                "description": (
                    "events is the log; negotiations the read model (stage, version, owed moves); "
                    "snapshots, checkpoints and meta are hidden (derived, or the store's bookkeeping)."
                ),
                "tables": {name: _copy(table) for name, table in _TABLES.items()},
                "queries": {name: _copy(query) for name, query in QUERIES.items()},
            }
        },
    }


def _copy(value: dict[str, Any]) -> dict[str, Any]:
    """A copy deep enough that a caller changing the result does not change the module's tables."""
    return {k: dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v for k, v in value.items()}
