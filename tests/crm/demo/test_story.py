"""The demo club's story: valid against the catalog, varied, and the same on every run."""

from collections import Counter
from datetime import date

from crm.demo.story import demo_club_events
from crm.events.catalog import CATALOG
from crm.events.validation import InvalidEvent, event_validate


def test_every_demo_event_passes_the_catalog_and_most_types_appear():
    events = demo_club_events(club_slug="demo", profiles=400, today=date(2026, 11, 24))
    invalid = [result.errors for result in map(event_validate, events) if isinstance(result, InvalidEvent)]
    assert invalid == []
    types = Counter(event["type"] for event in events)
    missing = {event_type.name for event_type in CATALOG} - set(types)
    # Types a quiet club rarely sees (suspensions, complaints, edits) are left to the tests.
    assert missing <= {
        "member.updated",
        "player.updated",
        "contact.updated",
        "membership.suspended",
        "message.complained",
        "tournament.updated",
        "membership.tier_changed",
        "message.unsubscribed",
    }
    assert types["round.completed"] > types["member.created"] > 0


def test_the_same_seed_and_day_give_the_same_events():
    first = demo_club_events(club_slug="demo", profiles=60, today=date(2026, 11, 24))
    again = demo_club_events(club_slug="demo", profiles=60, today=date(2026, 11, 24))
    other = demo_club_events(club_slug="demo", profiles=60, seed=8, today=date(2026, 11, 24))
    assert first == again
    assert [event["id"] for event in first] != [event["id"] for event in other]
