"""Simulating what can happen next: Monte Carlo, shortest paths, and a stateful test base.

All three walk the permitted next steps of a state, as *moves*: an event type, the party
making it, the ref it names (and the parties it names). A move becomes an event that replay
accepts: fresh ids ``sim-1``, ``sim-2``, ..., dated on the start state's latest day, carrying
the start's negotiation id.

* :func:`simulate` draws many continuations under a :class:`Policy` (weights by event type
  and party) and returns the distribution of final stages and of the number of steps to
  reach each stage: a :class:`SimulationResult`. Same seed, same result.
* :func:`shortest_paths` finds the shortest event sequences from a state to a stage, or says
  the stage is unreachable; :func:`reachable_stages` gives the distance to every stage.
* :class:`NegotiationMachine` is a Hypothesis ``RuleBasedStateMachine`` whose rules are the
  permitted next steps: subclass it and state invariants of your scenarios.

The README's "Simulation" section documents the choices (who moves, dates, the default policy).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import statistics
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from negotiation.dates import PartialDate
from negotiation.errors import InvalidPolicy
from negotiation.events import EVENT_TYPES, Event, FrozenMap
from negotiation.fold import Fold
from negotiation.machine import NEUTRAL_TYPES, Stage, permitted_types
from negotiation.moves import (
    Move,
    build,
    candidates,
    changes_nothing,
    fresh_ids,
    latest_day,
    listed,
    moves,
    signature,
)
from negotiation.state import NegotiationState
from negotiation.strategies import SIMULATED, NegotiationMachine

__all__ = [
    "NegotiationMachine",
    "Policy",
    "ShortestPaths",
    "SimulationResult",
    "reachable_stages",
    "shortest_paths",
    "simulate",
]

_NEUTRAL = frozenset(NEUTRAL_TYPES)
#: Types that have a move whenever the stage permits them (there are always 2+ candidates).
_ALWAYS_POSSIBLE = frozenset(
    (
        "ContactProposed",
        "ContactHeld",
        "ConsultationHeld",
        "ProposalPublished",
        "PositionStated",
        "FrameworkAgreed",
        "TextAgreed",
        "DeadlineSet",
        "TalksLapsed",
    )
)
#: Types whose moves never have an actor: every move of them has factor 1.
_ACTORLESS = frozenset(
    (
        "ContactHeld",
        "ConsultationHeld",
        "FrameworkAgreed",
        "TextAgreed",
        "AgreementEnteredIntoForce",
        "AgreementTerminated",
        "DeadlineSet",
        "TalksLapsed",
        "EventRetracted",
    )
)

# -- policies -----------------------------------------------------------------------------

#: Type weights of the default policy that differ from 1: a retraction corrects the record,
#: it is not a move in the negotiation; joining and leaving change who sits at the table,
#: which a scenario weights in when it asks for it.
DEFAULT_TYPE_WEIGHTS: Mapping[str, float] = {"EventRetracted": 0.0, "ParticipantJoined": 0.0, "ParticipantLeft": 0.0}
_POLICY_KEYS = ("default", "types", "parties", "moves", "description")


def _weight(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        msg = f"{where}={value!r} must be a finite number >= 0"
        raise InvalidPolicy(msg)
    return float(value)


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        msg = f"{where}={value!r} must be a table (an object) of names to weights"
        raise InvalidPolicy(msg)
    return value


def _event_type(name: str, where: str) -> str:
    if name not in EVENT_TYPES:
        msg = f"{where}: {name!r} is not an event type; expected one of: {', '.join(EVENT_TYPES)}"
        raise InvalidPolicy(msg)
    return name


def _frozen(table: Mapping[str, Any]) -> FrozenMap[str, Any]:
    """A table of weights as an immutable mapping (its tables too: ``moves``)."""
    return FrozenMap({k: _frozen(v) if isinstance(v, Mapping) else v for k, v in table.items()})


@attrs.frozen(kw_only=True)
class Policy:
    """How likely each permitted next step is, for :func:`simulate`.

    At each step every permitted move gets the weight::

        types[type] / (number of moves of that type) * parties[actor] * moves[type][actor]

    and the next move is drawn with probability proportional to its weight. So with every
    party at 1, the chance of an event type is proportional to its weight among the types
    permitted now, however many refs or actors it could take. A type not in ``types`` weighs
    ``default``; a party not in ``parties`` (and a joint move or one without an actor) has
    factor 1. A party with factor 0 never moves and is left out of joint events (agreements,
    consultations) and addressees; a party listed with a positive factor joins the parties
    that make moves open to anyone.

    The default policy: every type weighs 1 except ``EventRetracted`` (0).

    Attributes:
        types: weight of each event type (``DEFAULT_TYPE_WEIGHTS`` unless overridden).
        parties: factor of each party's moves.
        moves: factor of one party's moves of one type: ``{type: {party: factor}}``.
        default: weight of the types not in ``types``.
        description: free text saying what the policy assumes.
    """

    types: FrozenMap[str, float] = attrs.field(factory=lambda: FrozenMap(DEFAULT_TYPE_WEIGHTS), converter=_frozen)
    parties: FrozenMap[str, float] = attrs.field(factory=FrozenMap, converter=_frozen)
    moves: FrozenMap[str, FrozenMap[str, float]] = attrs.field(factory=FrozenMap, converter=_frozen)
    default: float = 1.0
    description: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str = "policy") -> Policy:
        """A policy from its TOML or JSON form, laid over the default policy.

        Raises:
            InvalidPolicy: an unknown key or event type, or a weight that is not a number >= 0.
        """
        data = _table(data, where)
        unknown = [k for k in data if k not in _POLICY_KEYS]
        if unknown:
            msg = f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; expected any of: {', '.join(_POLICY_KEYS)}"
            raise InvalidPolicy(msg)
        types = dict(DEFAULT_TYPE_WEIGHTS)
        for name, value in _table(data.get("types", {}), f"{where}: types").items():
            types[_event_type(name, f"{where}: types")] = _weight(value, f"{where}: types.{name}")
        parties = {
            str(name): _weight(value, f"{where}: parties.{name}")
            for name, value in _table(data.get("parties", {}), f"{where}: parties").items()
        }
        by_move: dict[str, dict[str, float]] = {}
        for kind, table in _table(data.get("moves", {}), f"{where}: moves").items():
            _event_type(kind, f"{where}: moves")
            by_move[kind] = {
                str(p): _weight(v, f"{where}: moves.{kind}.{p}")
                for p, v in _table(table, f"{where}: moves.{kind}").items()
            }
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            msg = f"{where}: description={description!r} must be text"
            raise InvalidPolicy(msg)
        default = _weight(data.get("default", 1.0), f"{where}: default")
        return cls(types=types, parties=parties, moves=by_move, default=default, description=description)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Policy:
        """Read a policy file: TOML (``.toml``) or JSON (``.json``, or any other name).

        Raises:
            InvalidPolicy: the file cannot be read or parsed, or its content is invalid; the
                message names the file.
        """
        name = os.fspath(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as e:
            msg = f"cannot read policy {name}: {e.strerror}"
            raise InvalidPolicy(msg) from e
        toml = name.endswith(".toml")
        try:
            data = tomllib.loads(raw.decode("utf-8")) if toml else json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            msg = f"policy {name} is not valid {'TOML' if toml else 'JSON'}: {e}"
            raise InvalidPolicy(msg) from e
        return cls.from_mapping(data, where=name)

    @classmethod
    def of(cls, policy: Policy | Mapping[str, Any] | str | os.PathLike[str] | None) -> Policy:
        """Coerce a policy, its mapping, a policy file path, or None (the default)."""
        if policy is None:
            return cls()
        if isinstance(policy, Policy):
            return policy
        if isinstance(policy, Mapping):
            return cls.from_mapping(policy)
        return cls.load(policy)

    def type_weight(self, kind: str) -> float:
        """The weight of an event type."""
        return self.types.get(kind, self.default)

    def factor(self, kind: str, party: str | None) -> float:
        """The factor of ``party``'s moves of type ``kind`` (1 for a move without an actor)."""
        if party is None:
            return 1.0
        by_type = self.moves.get(kind)
        return self.parties.get(party, 1.0) * (by_type.get(party, 1.0) if by_type is not None else 1.0)

    def to_dict(self) -> dict[str, Any]:
        """The policy as its JSON form (what :meth:`from_mapping` reads)."""
        out: dict[str, Any] = {
            "default": self.default,
            "types": dict(self.types),
            "parties": dict(self.parties),
            "moves": {k: dict(v) for k, v in self.moves.items()},
        }
        if self.description is not None:
            out["description"] = self.description
        return out


# -- Monte Carlo --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SimulationResult:
    """The outcome of :func:`simulate`.

    Attributes:
        negotiation: the start state's negotiation.
        start: the start state's stage.
        runs, max_steps, seed, policy: as given.
        events: how many events were simulated in all runs.
        final: how many runs ended in each stage.
        reached: for each stage, how many runs first reached it after ``n`` steps:
            ``{stage: {n: runs}}``. The start stage is reached after 0 steps.
        ended: how many runs ended because they made ``max_steps`` steps (``"max_steps"``),
            reached a stage that no positively weighted move can leave (``"final"``:
            ``terminated`` under the default policy), or found no positively weighted move
            (``"stuck"``).
    """

    negotiation: str | None
    start: Stage
    runs: int
    max_steps: int
    seed: int
    policy: Policy
    events: int
    final: FrozenMap[Stage, int]
    reached: FrozenMap[Stage, FrozenMap[int, int]]
    ended: FrozenMap[str, int]

    def share(self, stage: Stage | str) -> float:
        """The share of runs that ended in ``stage``."""
        return self.final.get(Stage(stage), 0) / self.runs

    def steps(self, stage: Stage | str) -> list[int]:
        """The number of steps each run that reached ``stage`` took to reach it, sorted."""
        histogram = self.reached.get(Stage(stage), FrozenMap())
        return [n for n, count in sorted(histogram.items()) for _ in range(count)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: the parameters, counts and shares; stages in the machine's order."""
        reached = {}
        for stage in Stage:
            steps = self.steps(stage)
            if steps:
                reached[stage.value] = {
                    "runs": len(steps),
                    "share": len(steps) / self.runs,
                    "min": steps[0],
                    "median": statistics.median(steps),
                    "mean": statistics.fmean(steps),
                    "max": steps[-1],
                    "histogram": {str(n): c for n, c in sorted(self.reached[stage].items())},
                }
        return {
            "negotiation": self.negotiation,
            "start": self.start.value,
            "runs": self.runs,
            "max_steps": self.max_steps,
            "seed": self.seed,
            "policy": self.policy.to_dict(),
            "events": self.events,
            "ended": dict(self.ended),
            "final": {
                s.value: {"runs": self.final[s], "share": self.final[s] / self.runs} for s in Stage if s in self.final
            },
            "reached": reached,
        }


def _start(start: NegotiationState | None) -> NegotiationState:
    return start if start is not None else NegotiationState.empty(SIMULATED)


def _by_stage(by_stage: Mapping[Stage, Any]) -> dict[Stage, Any]:
    """The same items in the machine's order of stages."""
    return {stage: by_stage[stage] for stage in Stage if stage in by_stage}


def simulate(
    start: NegotiationState | None = None,
    policy: Policy | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    runs: int = 1000,
    max_steps: int = 50,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Monte Carlo: ``runs`` continuations of ``start`` of at most ``max_steps`` events each.

    Each step draws one permitted move with probability proportional to its weight under
    ``policy`` (see :class:`Policy`) and makes it. A run stops after ``max_steps`` events,
    in a stage no positively weighted move can leave, or when no move has a positive weight.

    Args:
        start: the state to continue (default: the empty negotiation).
        policy: a :class:`Policy`, its mapping, a TOML/JSON file, or None for the default.
        runs, max_steps: how many runs, how many events each at most.
        seed: the seed of the random generator: the same seed gives the same result.
        progress: called with the number of runs just completed (for a progress bar).

    Raises:
        ValueError: ``runs`` or ``max_steps`` below 1.
        InvalidPolicy: the policy cannot be read.
    """
    if runs < 1 or max_steps < 1:
        msg = f"runs={runs!r} and max_steps={max_steps!r} must be at least 1"
        raise ValueError(msg)
    state = _start(start)
    rules = Policy.of(policy)
    base = state.copy_fold()
    rng = random.Random(seed)
    cands = candidates(
        base,
        extra=[p for p, w in rules.parties.items() if w > 0],
        exclude=[p for p, w in rules.parties.items() if w == 0],
    )
    type_weight = {kind: rules.type_weight(kind) for kind in EVENT_TYPES}
    kinds_by_stage = {
        stage: tuple(k for k in (*permitted_types(stage), "EventRetracted") if type_weight[k] > 0) for stage in Stage
    }
    final_stages = {
        stage
        for stage, kinds in kinds_by_stage.items()
        if stage is not Stage.IDLE and all(k in _NEUTRAL for k in kinds)
    }
    # The factors that differ from 1, by type and actor. Every actor a move can have is a
    # candidate or a party the start state names (simulated events name only candidates).
    universe = dict.fromkeys((*cands, *base.parties))
    special: dict[str, dict[str | None, float]] = {
        kind: {} if kind in _ACTORLESS else {p: f for p in universe if (f := rules.factor(kind, p)) != 1.0}
        for kind in EVENT_TYPES
    }
    occurred = PartialDate.of(latest_day(base))
    step_ids = list(itertools.islice(fresh_ids(base.all_ids), max_steps))
    final: Counter[Stage] = Counter()
    reached: defaultdict[Stage, Counter[int]] = defaultdict(Counter)
    ended = {"max_steps": 0, "final": 0, "stuck": 0}
    total = 0
    for _ in range(runs):
        fold = base.copy()
        stage = fold.stage
        first = {stage: 0}
        why = "max_steps"
        for step, event_id in enumerate(step_ids, start=1):
            if stage in final_stages:
                break
            # Two draws: an event type with probability proportional to its mass (type
            # weight x mean factor of its moves), then one of its moves by factor. Types
            # whose moves all weigh alike and that always have one need no listing.
            kinds: list[str] = []
            masses: list[float] = []
            found_by_kind: dict[str, list[Move]] = {}
            for kind in kinds_by_stage[stage]:
                factors = special[kind]
                mass = type_weight[kind]
                if factors or kind not in _ALWAYS_POSSIBLE:
                    found = found_by_kind[kind] = listed(fold, kind, cands)
                    if not found:
                        continue
                    if factors:
                        extra = sum(factors[m.actor] - 1.0 for m in found if m.actor in factors)
                        mass = mass * (len(found) + extra) / len(found)
                        if mass <= 0:
                            continue
                kinds.append(kind)
                masses.append(mass)
            if not kinds:
                why = "stuck"
                break
            kind = rng.choices(kinds, masses)[0] if len(kinds) > 1 else kinds[0]
            found = found_by_kind.get(kind) or listed(fold, kind, cands)
            factors = special[kind]
            if not factors:
                move = found[rng.randrange(len(found))]
            else:
                move = rng.choices(found, [factors.get(m.actor, 1.0) for m in found])[0]
            fold.apply(build(move, fold, id=event_id, occurred=occurred))
            total += 1
            if fold.stage is not stage:
                stage = fold.stage
                first.setdefault(stage, step)
        if stage in final_stages:
            why = "final"
        ended[why] += 1
        final[stage] += 1
        for s, n in first.items():
            reached[s][n] += 1
        if progress is not None:
            progress(1)
    return SimulationResult(
        negotiation=state.negotiation,
        start=state.stage,
        runs=runs,
        max_steps=max_steps,
        seed=seed,
        policy=rules,
        events=total,
        final=FrozenMap(_by_stage(final)),
        reached=FrozenMap({s: FrozenMap(dict(sorted(h.items()))) for s, h in _by_stage(reached).items()}),
        ended=FrozenMap(ended),
    )


# -- shortest paths -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ShortestPaths:
    """The shortest event sequences from a state to a stage (:func:`shortest_paths`).

    Attributes:
        negotiation: the start state's negotiation.
        start: the start state's stage.
        to: the stage asked for.
        paths: the shortest paths found (at most the ``limit`` asked for), each a tuple of
            events to append in order; ``((),)`` when the state is already in the stage;
            empty when the stage is unreachable.
    """

    negotiation: str | None
    start: Stage
    to: Stage
    paths: tuple[tuple[Event, ...], ...]

    @property
    def reachable(self) -> bool:
        """Whether some sequence of permitted events leads to the stage."""
        return bool(self.paths)

    @property
    def length(self) -> int | None:
        """The number of events of a shortest path, or None when unreachable."""
        return len(self.paths[0]) if self.paths else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "negotiation": self.negotiation,
            "start": self.start.value,
            "to": self.to.value,
            "reachable": self.reachable,
            "length": self.length,
            "paths": [[e.to_dict() for e in path] for path in self.paths],
        }


_Node = tuple[Fold, tuple[Event, ...]]


def _search(
    fold: Fold,
    cands: tuple[str, ...],
    *,
    target: Stage | None,
    limit: int,
    reserved: Iterable[str],
) -> tuple[dict[Stage, int], list[tuple[Event, ...]]]:
    """Breadth-first search over stage-changing moves: distances, and paths to ``target``.

    States are told apart by :func:`~negotiation.moves.signature`; each level keeps at most
    ``limit`` states of each signature (one is enough for distances, more give more paths).
    Moves that :func:`~negotiation.moves.changes_nothing` are not tried, nor moves past the
    start's number of open proposals (or one): no path needs more. Retractions are not moves.
    """
    distances = {fold.stage: 0}
    if target is fold.stage:
        return distances, [()]
    occurred = PartialDate.of(latest_day(fold))
    ids = fresh_ids(set(fold.all_ids) | set(reserved))
    cap = max(fold.open_proposals, 1)
    kinds = [k for k in EVENT_TYPES if k != "EventRetracted"]
    seen = {signature(fold)}
    level: list[_Node] = [(fold, ())]
    depth = 0
    while level:
        depth += 1
        event_id = next(ids)
        buckets: dict[tuple[object, ...], list[_Node]] = {}
        found: list[tuple[Event, ...]] = []
        for parent, path in level:
            for move in moves(parent, cands, kinds):
                if move.co_actors or changes_nothing(move.type, parent):
                    continue  # a joint act reaches no stage sooner than one of its actors alone
                child = parent.copy()
                event = build(move, child, id=event_id, occurred=occurred)
                child.apply(event)
                if child.open_proposals > cap:
                    continue
                distances.setdefault(child.stage, depth)
                if child.stage is target:
                    if len(found) < limit:
                        found.append((*path, event))
                    continue
                sig = signature(child)
                if sig in seen:
                    continue
                bucket = buckets.setdefault(sig, [])
                if len(bucket) < limit:
                    bucket.append((child, (*path, event)))
        if found:
            return distances, found
        seen.update(buckets)
        level = [node for bucket in buckets.values() for node in bucket]
    return distances, []


def shortest_paths(
    start: NegotiationState | None,
    to_stage: Stage | str,
    *,
    limit: int = 10,
    parties: Iterable[str] = (),
    reserved: Iterable[str] = (),
) -> ShortestPaths:
    """The shortest event sequences that take ``start`` to ``to_stage``, or none if unreachable.

    A breadth-first search over moves (event type x actor x ref), with concrete events built
    so that each path replays: ``start.extend(path)`` is in ``to_stage``. Paths are made of
    stage-changing events only (contacts, statements and the like never shorten a path, and
    are used only to leave ``idle``); retractions are not used.

    Args:
        start: the state to start from (default: the empty negotiation).
        to_stage: the stage to reach.
        limit: return at most this many paths (all of the shortest length).
        parties: parties that may join, besides the negotiation's participants.
        reserved: ids the events must not take besides the state's own (e.g. the ids of
            events of the log after an ``as_of`` cut).

    Raises:
        ValueError: an unknown stage, or ``limit`` below 1.
    """
    if limit < 1:
        msg = f"limit={limit!r} must be at least 1"
        raise ValueError(msg)
    target = Stage(to_stage)
    state = _start(start)
    fold = state.copy_fold()
    cands = candidates(fold, parties)
    # One representative per signature finds the distance (or proves the stage unreachable)
    # fast; only then are more paths of that length worth a wider search.
    _, paths = _search(fold, cands, target=target, limit=1, reserved=reserved)
    if paths and limit > 1:
        _, paths = _search(fold, cands, target=target, limit=limit, reserved=reserved)
    return ShortestPaths(negotiation=state.negotiation, start=state.stage, to=target, paths=tuple(paths))


def reachable_stages(start: NegotiationState | None = None, *, parties: Iterable[str] = ()) -> dict[Stage, int]:
    """Every stage reachable from ``start``, with the length of a shortest path to it.

    Stages missing from the result are unreachable (the start stage is at 0).
    """
    fold = _start(start).copy_fold()
    distances, _ = _search(fold, candidates(fold, parties), target=None, limit=1, reserved=())
    return _by_stage(distances)
