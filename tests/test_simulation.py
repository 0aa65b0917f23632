"""Simulation: policies, Monte Carlo, shortest paths, the stateful base class and their commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, run_state_machine_as_test

from negotiation import (
    InvalidPolicy,
    NegotiationMachine,
    NegotiationState,
    Policy,
    Stage,
    reachable_stages,
    read_log,
    replay,
    replay_log,
    shortest_paths,
    simulate,
)
from negotiation import strategies as nst
from negotiation.cli import cli
from tests.conftest import FOUNDING, ROOT

AS_OF = "2022-02-02"


@pytest.fixture(scope="module")
def founding() -> NegotiationState:
    """The founding log as of the seed's briefing (stage talks)."""
    return replay_log(FOUNDING, as_of=AS_OF)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# -- policies ---------------------------------------------------------------------------


def test_default_policy_weighs_every_type_1_but_retractions() -> None:
    """The default: every event type 1, EventRetracted 0, every party factor 1."""
    policy = Policy()
    assert policy.type_weight("ReplyDelivered") == 1.0
    assert policy.type_weight("EventRetracted") == 0.0
    assert policy.factor("ReplyDelivered", "RU") == 1.0


def test_policy_files_in_toml_and_json_read_alike(tmp_path: Path) -> None:
    """A TOML and a JSON policy with the same content give the same policy, laid over the default."""
    toml = tmp_path / "policy.toml"
    toml.write_text(
        'description = "replies likely"\ndefault = 0.5\n[types]\nReplyDelivered = 4\n'
        '[parties]\n"El Pais" = 0\n[moves.ReplyDelivered]\nRU = 0.25\n',
        encoding="utf-8",
    )
    data = {
        "description": "replies likely",
        "default": 0.5,
        "types": {"ReplyDelivered": 4},
        "parties": {"El Pais": 0},
        "moves": {"ReplyDelivered": {"RU": 0.25}},
    }
    (tmp_path / "policy.json").write_text(json.dumps(data), encoding="utf-8")
    policy = Policy.load(toml)
    assert policy == Policy.load(tmp_path / "policy.json") == Policy.of(data)
    assert policy.type_weight("ReplyDelivered") == 4.0
    assert policy.type_weight("TextAgreed") == 0.5
    assert policy.type_weight("EventRetracted") == 0.0
    assert policy.factor("ReplyDelivered", "RU") == 0.25
    assert policy.factor("ReplyDelivered", "El Pais") == 0.0
    assert Policy.of(policy.to_dict()) == policy


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weights": {}}, "unknown key 'weights'"),
        ({"types": {"ReplyDelivred": 1}}, "'ReplyDelivred' is not an event type"),
        ({"types": {"ReplyDelivered": -1}}, "types.ReplyDelivered=-1 must be a finite number >= 0"),
        ({"parties": {"RU": "high"}}, "parties.RU='high' must be a finite number >= 0"),
        ({"moves": {"TalksResumed": 2}}, "moves.TalksResumed=2 must be a table"),
        ({"default": True}, "default=True must be a finite number >= 0"),
    ],
)
def test_invalid_policies_are_refused_with_what_is_wrong(data: dict[str, object], message: str) -> None:
    """Unknown keys and types, and weights that are not numbers >= 0, raise InvalidPolicy naming them."""
    with pytest.raises(InvalidPolicy, match=message.replace("(", r"\(").replace(".", r"\.")):
        Policy.of(data)


def test_unreadable_policy_files_name_the_file(tmp_path: Path) -> None:
    """A missing file or bad TOML raises InvalidPolicy naming the file."""
    with pytest.raises(InvalidPolicy, match=r"cannot read policy .*missing\.toml"):
        Policy.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[types\n", encoding="utf-8")
    with pytest.raises(InvalidPolicy, match=r"bad\.toml is not valid TOML"):
        Policy.load(bad)


# -- Monte Carlo ------------------------------------------------------------------------


@pytest.mark.extended
def test_the_same_seed_gives_the_same_result_and_different_seeds_differ(founding: NegotiationState) -> None:
    """simulate is reproducible from its seed."""
    first = simulate(founding, runs=200, max_steps=30, seed=7)
    assert simulate(founding, runs=200, max_steps=30, seed=7) == first
    assert simulate(founding, runs=200, max_steps=30, seed=8).to_dict() != first.to_dict()


def test_results_add_up(founding: NegotiationState) -> None:
    """Final stages count every run; the start stage is reached by all at 0 steps; steps never exceed max_steps."""
    result = simulate(founding, runs=300, max_steps=25, seed=1)
    assert sum(result.final.values()) == result.runs == sum(result.ended.values()) == 300
    assert result.start is Stage.TALKS
    assert result.reached[Stage.TALKS] == {0: 300}
    assert all(0 <= n <= 25 for h in result.reached.values() for n in h)
    assert 0 < result.events <= 300 * 25
    assert sum(result.share(s) for s in Stage) == pytest.approx(1.0)
    data = result.to_dict()
    assert data["runs"] == 300
    assert data["final"]["terminated"]["runs"] == result.final.get(Stage.TERMINATED, 0)
    assert json.loads(json.dumps(data)) == data


def test_runs_stop_in_a_stage_no_weighted_move_leaves(founding: NegotiationState) -> None:
    """Under the default policy `terminated` is final: runs that reach it end there, early."""
    result = simulate(founding, runs=150, max_steps=100, seed=2)
    assert result.ended["final"] == result.final[Stage.TERMINATED] > 0
    assert result.events < 150 * 100


def test_type_weights_set_the_odds_of_the_next_step(founding: NegotiationState) -> None:
    """With only suspension (1) and break-off (3) weighted, a quarter of first steps suspend the talks."""
    policy = {"default": 0, "types": {"TalksSuspended": 1, "TalksBrokenOff": 3}}
    result = simulate(founding, policy, runs=4000, max_steps=1, seed=3)
    assert result.share(Stage.SUSPENDED) == pytest.approx(0.25, abs=0.03)
    assert result.share(Stage.BROKEN_OFF) == pytest.approx(0.75, abs=0.03)


def test_party_factors_scale_a_type_by_the_mean_of_its_moves(founding: NegotiationState) -> None:
    """Break-offs by RU at factor 4 among US, RU, NATO at 1: the type's mass is 1 x (4+1+1)/3 = 2 against 1."""
    policy = {"default": 0, "types": {"TalksSuspended": 1, "TalksBrokenOff": 1}, "moves": {"TalksBrokenOff": {"RU": 4}}}
    result = simulate(founding, policy, runs=4000, max_steps=1, seed=4)
    assert result.share(Stage.BROKEN_OFF) == pytest.approx(2 / 3, abs=0.03)


def test_a_party_at_zero_never_moves_and_a_policy_can_leave_nothing_to_do(founding: NegotiationState) -> None:
    """Only RU may break off, and RU is at 0: every run is stuck at once."""
    policy = {"default": 0, "types": {"TalksBrokenOff": 1}, "parties": {"RU": 0, "US": 0, "NATO": 0, "El Pais": 0}}
    result = simulate(founding, policy, runs=20, max_steps=5, seed=0)
    assert result.ended["stuck"] == 20
    assert result.final == {Stage.TALKS: 20}
    assert result.events == 0


def test_simulate_starts_from_the_empty_negotiation_by_default() -> None:
    """Without a start state, runs start in idle with parties A and B."""
    result = simulate(runs=50, max_steps=10, seed=0)
    assert result.start is Stage.IDLE
    assert result.negotiation == nst.SIMULATED
    assert Stage.EXPLORATION in result.reached


def test_simulate_refuses_nonsense_sizes() -> None:
    """runs and max_steps must be at least 1."""
    with pytest.raises(ValueError, match="runs=0"):
        simulate(runs=0)


# -- shortest paths ---------------------------------------------------------------------


def test_shortest_path_from_the_founding_state_to_an_agreed_text(founding: NegotiationState) -> None:
    """From talks, one TextAgreed among the three parties at the table (not the newspaper that leaked)."""
    found = shortest_paths(founding, "text_agreed")
    assert found.reachable
    assert found.length == 1
    (path,) = found.paths
    (event,) = path
    assert event.TYPE == "TextAgreed"
    assert set(event.parties) == {"US", "RU", "NATO"}
    assert event.negotiation == "security-guarantees-2021"
    assert str(event.occurred) == AS_OF


@pytest.mark.extended
@pytest.mark.parametrize("stage", list(Stage))
def test_every_shortest_path_replays_to_its_stage(founding: NegotiationState, stage: Stage) -> None:
    """Each path returned, appended to the state, reaches the stage, and has the length reachable_stages gives."""
    found = shortest_paths(founding, stage, limit=5)
    distances = reachable_stages(founding)
    assert found.reachable == (stage in distances)
    assert found.length == distances.get(stage)
    assert len(found.paths) <= 5
    for path in found.paths:
        assert founding.extend(path).stage is stage


@pytest.mark.extended
def test_unreachable_and_already_there(founding: NegotiationState) -> None:
    """Once a proposal exists, exploration and idle are out of reach; the current stage is reached by no event."""
    assert not shortest_paths(founding, Stage.EXPLORATION).reachable
    assert shortest_paths(founding, Stage.IDLE).paths == ()
    here = shortest_paths(founding, Stage.TALKS)
    assert here.paths == ((),)
    assert here.length == 0


def test_from_the_empty_negotiation_every_stage_is_reachable() -> None:
    """From idle: exploration in 1, proposal_open in 1, talks in 2, signed in 3, terminated in 4."""
    distances = reachable_stages()
    assert set(distances) == set(Stage)
    assert distances[Stage.EXPLORATION] == distances[Stage.PROPOSAL_OPEN] == 1
    assert distances[Stage.TALKS] == 2
    assert distances[Stage.SIGNED] == 3
    assert distances[Stage.TERMINATED] == 4


def test_paths_avoid_reserved_ids(founding: NegotiationState) -> None:
    """Ids used elsewhere in the log (after an as_of cut) are not reused."""
    (path,) = shortest_paths(founding, "signed", limit=1, reserved=["sim-1", "sim-3"]).paths
    assert [e.id for e in path] == ["sim-2", "sim-4"]


def test_shortest_paths_refuses_bad_arguments(founding: NegotiationState) -> None:
    """An unknown stage or a limit below 1 is a ValueError."""
    with pytest.raises(ValueError, match="'agreed'"):
        shortest_paths(founding, "agreed")
    with pytest.raises(ValueError, match="limit=0"):
        shortest_paths(founding, "signed", limit=0)


@pytest.mark.extended
@settings(max_examples=25)
@given(st.data())
def test_no_walk_reaches_a_stage_faster_than_the_shortest_path(data: st.DataObject) -> None:
    """For any state and any continuation without retractions, the continuation is no shorter than a shortest path
    to the stage it ends in, and never ends in a stage reported unreachable."""
    start = data.draw(nst.states(max_events=6))
    continuation = data.draw(nst.valid_logs(start, max_events=6, exclude={"EventRetracted"}))
    end = start.extend(continuation).stage
    distances = reachable_stages(start)
    assert end in distances
    assert distances[end] <= len(continuation)


# -- the stateful base class --------------------------------------------------------------


class FoundingScenario(NegotiationMachine):
    """Continuations of the founding log as of 2022-02-02, with invariants that must hold."""

    start = replay_log(FOUNDING, as_of=AS_OF)

    @invariant()
    def one_event_a_step(self) -> None:
        assert self.start is not None
        assert self.state.version == self.start.version + len(self.events)
        assert self.state.stage is not Stage.IDLE

    @invariant()
    def nothing_in_force_without_an_agreed_text(self) -> None:
        if self.state.stage in (Stage.IN_FORCE, Stage.SIGNED, Stage.RATIFYING):
            assert self.state.agreement is not None


@pytest.mark.extended
def test_a_scenario_with_true_invariants_passes() -> None:
    """The machine's rules are the permitted next steps: every step is accepted and the invariants hold."""
    run_state_machine_as_test(FoundingScenario, settings=settings(max_examples=15, stateful_step_count=15))


class NeverAgree(NegotiationMachine):
    """A false claim: no scenario from the empty negotiation reaches an agreed text."""

    exclude = frozenset({"EventRetracted"})

    @invariant()
    def no_agreed_text(self) -> None:
        assert self.state.stage is not Stage.TEXT_AGREED


def test_a_false_invariant_is_found() -> None:
    """Hypothesis finds a run that breaks the invariant (generation only: shrinking stateful runs is slow)."""
    with pytest.raises(AssertionError):
        run_state_machine_as_test(
            NeverAgree,
            settings=settings(
                max_examples=200, stateful_step_count=10, database=None, phases=[Phase.generate], derandomize=True
            ),
        )


# -- the commands -------------------------------------------------------------------------


def test_simulate_command_prints_a_table_with_shares() -> None:
    """`negotiation simulate` prints the final stages with runs and shares, and steps to each stage."""
    code, out, _ = run("simulate", str(FOUNDING), "--as-of", AS_OF, "--runs", "100", "--steps", "20", "--seed", "5")
    assert code == 0
    assert out.startswith(
        "security-guarantees-2021 as of 2022-02-02: stage talks; 100 runs of at most 20 steps, seed 5"
    )
    assert "final stage" in out
    assert "Steps to first reach each stage" in out
    assert "%" in out


@pytest.mark.extended
def test_simulate_command_json_is_reproducible_from_the_seed() -> None:
    """--json gives counts; the same seed gives the same output, another seed a different one."""
    args = ("simulate", str(FOUNDING), "--as-of", AS_OF, "--runs", "150", "--steps", "20", "--json")
    code, out, _ = run(*args, "--seed", "11")
    assert code == 0
    data = json.loads(out)
    assert data["runs"] == 150
    assert data["events"] > 0
    assert data["as_of"] == AS_OF
    assert sum(v["runs"] for v in data["final"].values()) == 150
    assert run(*args, "--seed", "11")[1] == out
    assert run(*args, "--seed", "12")[1] != out


def test_simulate_command_reads_a_policy_file_and_reports_a_bad_one(tmp_path: Path) -> None:
    """--policy reads TOML; an invalid policy is one line on stderr and exit 1."""
    policy = tmp_path / "p.toml"
    policy.write_text("default = 0\n[types]\nTalksBrokenOff = 1\n", encoding="utf-8")
    code, out, _ = run(
        "simulate", str(FOUNDING), "--as-of", AS_OF, "--runs", "10", "--steps", "3", "--policy", str(policy), "--json"
    )
    assert code == 0
    assert json.loads(out)["final"] == {"broken_off": {"runs": 10, "share": 1.0}}
    policy.write_text("[types]\nNope = 1\n", encoding="utf-8")
    code, _, err = run("simulate", str(FOUNDING), "--runs", "10", "--steps", "3", "--policy", str(policy))
    assert code == 1
    assert err.startswith("Error: ")
    assert "'Nope' is not an event type" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.extended
def test_paths_command_prints_appendable_json_lines() -> None:
    """Each path is JSON Lines on stdout, described on stderr; --json gives one object; unreachable exits 1."""
    code, out, err = run("paths", str(FOUNDING), "--as-of", AS_OF, "--to", "signed")
    assert code == 0
    blocks = out.strip().split("\n\n")
    assert len(blocks) == err.count("path ") >= 1
    assert all(json.loads(line)["negotiation"] == "security-guarantees-2021" for b in blocks for line in b.splitlines())
    code, out, _ = run("paths", str(FOUNDING), "--to", "signed", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["reachable"] is True
    assert data["start"] == "broken_off"
    code, _, err = run("paths", str(FOUNDING), "--to", "exploration")
    assert code == 1
    assert "unreachable from 'broken_off'" in err
    code, out, _ = run("paths", str(FOUNDING), "--to", "exploration", "--json")
    assert code == 0
    assert json.loads(out)["reachable"] is False


def _reachable_from_log(path: Path, as_of: str | None) -> dict[Stage, int]:
    return reachable_stages(replay_log(path, as_of=as_of))


@pytest.mark.extended
@pytest.mark.parametrize("as_of", [None, AS_OF])
def test_appending_the_printed_path_gives_the_requested_stage(tmp_path: Path, as_of: str | None) -> None:
    """For every stage reachable from the founding log: append `paths --limit 1` to a copy, replay, get the stage."""
    cut = ["--as-of", as_of] if as_of else []
    reachable = _reachable_from_log(FOUNDING, as_of)
    assert Stage.TEXT_AGREED in reachable
    for stage in reachable:
        copy = tmp_path / f"{stage.value}.jsonl"
        original = FOUNDING.read_text(encoding="utf-8")
        code, out, _ = run("paths", str(FOUNDING), "--to", stage.value, "--limit", "1", *cut)
        assert code == 0
        copy.write_text(original + ("" if original.endswith("\n") else "\n") + out, encoding="utf-8")
        log = read_log(copy)
        state = replay_log(log, as_of=as_of)
        assert state.stage is stage, stage
        assert len({e.id for e in log.events()}) == len(log.events())  # no id reused, even past the cut
        assert len(state.events) == len(replay_log(FOUNDING, as_of=as_of).events) + len(out.splitlines())
        if as_of is None:
            assert run("check", str(copy))[0] == 0
    assert replay(read_log(FOUNDING).events()).stage is Stage.BROKEN_OFF


# -- the scripts ----------------------------------------------------------------------------


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args], capture_output=True, text=True, check=False, cwd=ROOT
    )


@pytest.mark.slow
def test_simulate_founding_script_prints_the_distribution_and_the_path_to_an_agreed_text() -> None:
    """scripts/simulate_founding.py: outcomes under the documented policy, then one TextAgreed."""
    done = _script("simulate_founding.py", "--runs", "100", "--steps", "15", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["simulation"]["start"] == "talks"
    assert data["simulation"]["policy"]["parties"] == {"El Pais": 0.0}
    assert data["shortest_path_to_text_agreed"]["length"] == 1
    done = _script("simulate_founding.py", "--runs", "50", "--steps", "10")
    assert done.returncode == 0, done.stderr
    assert "final stage" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith('{"type": "TextAgreed"')


@pytest.mark.slow
def test_stateful_example_script_runs() -> None:
    """scripts/stateful_example.py checks its invariants over continuations of the founding log."""
    done = _script("stateful_example.py")
    assert done.returncode == 0, done.stderr
    assert "every invariant held" in done.stdout
