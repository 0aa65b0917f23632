"""Write the corpus of bad logs in ``tests/data/bad/`` (``python -m tests.make_bad_corpus``).

Each file is one way a log can be wrong: not JSON Lines, JSON that no event can carry, an
ill-formed event, or events that replay refuses. ``tests/test_bad_input.py`` checks that
``negotiation check`` and ``negotiation append`` answer each with a clear error (the first
line of which is in ``expected.json``, reviewed by hand when a file is added) and never with
an internal error. Files are written as bytes: some are deliberately not UTF-8.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent / "data" / "bad"

P = {
    "type": "ProposalPublished",
    "id": "p1",
    "occurred": "2022-01-01",
    "actor": "RU",
    "to": ["US"],
    "title": "Draft",
    "public": True,
}
R = {"type": "ReplyDelivered", "id": "r1", "occurred": "2022-01-05", "actor": "US", "ref": "p1", "public": True}


def line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


def with_(base: dict[str, object], **changes: object) -> dict[str, object]:
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not None}


def without(base: dict[str, object], key: str) -> dict[str, object]:
    return {k: v for k, v in base.items() if k != key}


PROPOSAL = line(P)
TEXT = line(P)[:-1]  # the proposal's object, still open for one more field

CORPUS: dict[str, str | bytes] = {
    # -- not JSON Lines ------------------------------------------------------------------
    "01-not-json.jsonl": "this is not json\n",
    "02-pretty-printed-array.jsonl": "[\n  " + PROPOSAL + "\n]\n",
    "03-one-line-array.jsonl": "[" + PROPOSAL + "]\n",
    "04-a-string.jsonl": '"ProposalPublished"\n',
    "05-a-number.jsonl": "42\n",
    "06-truncated-object.jsonl": PROPOSAL[:50] + "\n",
    "07-trailing-comma.jsonl": TEXT + ",}\n",
    "08-single-quotes.jsonl": PROPOSAL.replace('"', "'") + "\n",
    "09-latin-1.jsonl": (TEXT + ', "note": "caf\xe9"}\n').encode("latin-1"),
    "10-nul-bytes.jsonl": b"\x00\x00\x00\x00\n",
    "11-utf-16.jsonl": (PROPOSAL + "\n").encode("utf-16"),
    "12-gzip.jsonl": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x4b\x4c\x4a\x06\x00\xc2\x41\x24\x35\x03\x00\x00\x00",
    # -- JSON that no event can carry ------------------------------------------------------
    "13-nan.jsonl": TEXT + ', "weight": NaN}\n',
    "14-infinity.jsonl": TEXT + ', "weight": -Infinity}\n',
    "15-overflowing-float.jsonl": TEXT + ', "weight": 1e999}\n',
    "16-five-thousand-digits.jsonl": TEXT + ', "weight": ' + "9" * 5000 + "}\n",
    "17-nested-1200-deep.jsonl": TEXT + ', "x": ' + "[" * 1200 + "]" * 1200 + "}\n",
    "18-nested-980-deep.jsonl": TEXT + ', "x": ' + "[" * 980 + "]" * 980 + "}\n",
    "19-repeated-key.jsonl": TEXT + ', "id": "p2"}\n',
    "20-lone-surrogate-in-a-field.jsonl": TEXT + ', "x": "\\ud800"}\n',
    "21-lone-surrogate-in-the-title.jsonl": line(with_(P, title="@@")).replace("@@", "\\udfff") + "\n",
    # -- ill-formed events -------------------------------------------------------------------
    "22-no-type.jsonl": line(without(P, "type")) + "\n",
    "23-unknown-type.jsonl": line(with_(P, type="ProposalTabled")) + "\n",
    "24-no-occurred.jsonl": line(without(P, "occurred")) + "\n",
    "25-impossible-date.jsonl": line(with_(P, occurred="2022-02-30")) + "\n",
    "26-date-time-without-offset.jsonl": line(with_(P, occurred="2022-01-26T15:30:00")) + "\n",
    "27-date-time-past-9999-in-utc.jsonl": line(with_(P, occurred="9999-12-31T23:59:59-12:00")) + "\n",
    "28-date-time-before-year-1-in-utc.jsonl": line(with_(P, occurred="0001-01-01T00:00:00+14:00")) + "\n",
    "29-addressees-as-a-string.jsonl": line(with_(P, to="US")) + "\n",
    "30-no-addressee.jsonl": line(with_(P, to=[])) + "\n",
    "31-party-twice.jsonl": line({"type": "ConsultationHeld", "occurred": "2022-01-01", "parties": ["RU", "RU"]})
    + "\n",
    "32-public-as-text.jsonl": line(with_(P, public="yes")) + "\n",
    "33-unknown-level.jsonl": line(
        {"type": "ContactHeld", "occurred": "2022-01-01", "parties": ["RU", "US"], "mode": "phone", "level": "emperor"}
    )
    + "\n",
    "34-unknown-stance.jsonl": PROPOSAL + "\n" + line(with_(R, positions={"NATO enlargement": "maybe"})) + "\n",
    "35-id-as-a-number.jsonl": line(with_(P, id=7)) + "\n",
    "36-empty-id.jsonl": line(with_(P, id="")) + "\n",
    "37-source-as-text.jsonl": line(with_(P, source="TASS")) + "\n",
    "38-round-as-true.jsonl": line(
        {"type": "ConsultationHeld", "occurred": "2022-01-01", "parties": ["RU", "US"], "round": True}
    )
    + "\n",
    "39-contract-declared-late.jsonl": PROPOSAL + "\n" + '{"contract": 1}\n',
    "40-contract-from-the-future.jsonl": '{"contract": 99}\n' + PROPOSAL + "\n",
    "41-contract-as-text.jsonl": '{"contract": "1"}\n' + PROPOSAL + "\n",
    "42-recorded-without-offset.jsonl": line(with_(P, recorded="2022-01-02T10:00:00")) + "\n",
    # -- events replay refuses ---------------------------------------------------------------
    "43-reply-to-nothing.jsonl": line(R) + "\n",
    "44-id-used-twice.jsonl": PROPOSAL + "\n" + line(with_(P, title="Another draft")) + "\n",
    "45-signed-before-any-text.jsonl": line(
        {"type": "AgreementSigned", "occurred": "2022-01-01", "ref": "p1", "parties": ["RU", "US"]}
    )
    + "\n",
    "46-reply-dated-before-the-proposal.jsonl": PROPOSAL + "\n" + line(with_(R, occurred="2021-12-01")) + "\n",
    "47-proposer-replies-to-itself.jsonl": PROPOSAL + "\n" + line(with_(R, actor="RU")) + "\n",
    "48-retraction-of-nothing.jsonl": PROPOSAL
    + "\n"
    + line({"type": "EventRetracted", "occurred": "2022-01-02", "ref": "p9", "reason": "logged in error"})
    + "\n",
}


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for old in HERE.glob("*.jsonl"):
        old.unlink()
    for name, content in CORPUS.items():
        (HERE / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))


if __name__ == "__main__":
    main()
