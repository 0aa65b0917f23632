"""Shared test settings: a Hypothesis profile sized for a 2-core CI machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures: a server, a fresh database)

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
FOUNDING = EVENTS / "security-guarantees-2021.jsonl"

settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def founding_log() -> Path:
    """The founding log: the 2021-22 exchange on security guarantees."""
    return FOUNDING
