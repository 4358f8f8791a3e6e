"""Fixtures shared by the crm tests (events, API, pages)."""

import pytest

from crm.events import catalog
from crm.events.store import events_store
from crm.models import InboundEvent
from crm.signals import profiles_changed
from tests.factories.events import envelope


@pytest.fixture
def rejected_event(club_a, monkeypatch):
    """An SCL event the catalog wrongly rejects (a limit too strict); the fix is undoing the patch."""
    spec = catalog.CATALOG_BY_KEY[("scl", "member.created")]
    monkeypatch.setitem(spec.optional, "tier", catalog.Field("string", max_length=5))
    events_store(
        club=club_a,
        raw_events=[envelope("member.created", {"member_id": "M1", "tier": "Platinum"}, club=club_a)],
        transport="test",
    )
    events_store(
        club=club_a, raw_events=[envelope("member.created", {"member_id": "M2"}, club=club_a)], transport="test"
    )
    return InboundEvent.objects.for_club(club_a).get(status="rejected")


@pytest.fixture
def announced():
    """The profile ids `profiles_changed` announced, per call."""
    calls = []

    def listener(sender, club, profile_ids, **kwargs):
        calls.append(sorted(profile_ids))

    profiles_changed.connect(listener, weak=False)
    yield calls
    profiles_changed.disconnect(listener)
