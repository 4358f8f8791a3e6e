"""Identifiers and inbound events over REST: lookups, status, replay, key ingestion; scopes and isolation."""

import json

import pytest
from django.test import Client
from django.test.utils import override_settings

from crm.kernel.actor import Actor
from crm.models import AuditLog, CustomerProfile, InboundEvent
from crm.services.merges import profiles_merge
from tests.factories import IdentifierFactory, ProfileFactory
from tests.factories.api import api, api_for, key_for
from tests.factories.events import envelope

EVENTS = ("events:ingest",)


@pytest.fixture
def ann(club_a):
    profile = ProfileFactory(club=club_a, first_name="Ann", last_name="Brink", primary_email="ann@alpha.test")
    IdentifierFactory(profile=profile, kind="email", value="ann@alpha.test", source="scl")
    IdentifierFactory(profile=profile, kind="phone", value="+27825550101", source="teetime")
    IdentifierFactory(profile=profile, kind="scl_member_id", value="M1042", source="scl")
    return profile


# --- Identifiers ------------------------------------------------------------------------------


def test_a_profiles_identifiers_are_listed(club_a, ann):
    rows = api_for(club_a).get(f"/api/v1/profiles/{ann.pk}/identifiers").json()
    assert [(row["kind"], row["value"], row["source"]) for row in rows] == [
        ("email", "ann@alpha.test", "scl"),
        ("phone", "+27825550101", "teetime"),
        ("scl_member_id", "M1042", "scl"),
    ]


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", " Ann@Alpha.TEST "),
        ("phone", "082 555 0101"),
        ("phone", "+27 82 555 0101"),
        ("scl_member_id", "M1042"),
    ],
)
def test_lookup_normalises_the_value_as_ingestion_does(club_a, ann, kind, value):
    rows = api_for(club_a).get("/api/v1/identifiers", {"kind": kind, "value": value}).json()
    assert [row["profile_id"] for row in rows] == [ann.pk]


def test_lookup_follows_merges_and_skips_nobody(club_a, ann):
    duplicate = ProfileFactory(club=club_a, first_name="Ann", last_name="Brink")
    IdentifierFactory(profile=duplicate, kind="teetime_player_id", value="P9", source="teetime")
    profiles_merge(club=club_a, actor=Actor.system(), first_id=ann.pk, second_id=duplicate.pk, reason="staff")
    survivor = CustomerProfile.objects.for_club(club_a).get(merged_into__isnull=True, first_name="Ann")
    rows = api_for(club_a).get("/api/v1/identifiers", {"kind": "teetime_player_id", "value": "P9"}).json()
    assert [row["profile_id"] for row in rows] == [survivor.pk]
    assert api_for(club_a).get("/api/v1/identifiers", {"kind": "email", "value": "nobody@alpha.test"}).json() == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"value": "x"}, "kind"), ({"kind": "email"}, "value"), ({"kind": "email", "value": "   "}, "value")],
)
def test_lookup_without_kind_or_value_names_the_missing_parameter(club_a, params, field):
    response = api_for(club_a).get("/api/v1/identifiers", params)
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]["fields"]) == [field]


@pytest.mark.parametrize(("kind", "value"), [("email", "not-an-email"), ("phone", "12"), ("Bad Kind!", "x")])
def test_lookup_of_an_unreadable_value_is_a_clear_400(club_a, kind, value):
    response = api_for(club_a).get("/api/v1/identifiers", {"kind": kind, "value": value})
    body = response.json()
    assert response.status_code == 400 and body["error"]["code"] == "invalid_identifier", body
    assert body["error"]["message"]


def test_identifiers_need_the_read_scope(club_a, ann):
    response = api_for(club_a, "events:ingest").get(f"/api/v1/profiles/{ann.pk}/identifiers")
    assert response.status_code == 403 and "profiles:read" in response.json()["error"]["message"]


# --- Inbound events ---------------------------------------------------------------------------


def test_events_are_listed_newest_first_with_status_and_filters(club_a, rejected_event):
    client = api_for(club_a, *EVENTS)
    rows = client.get("/api/v1/inbound-events").json()["results"]
    assert len(rows) == 2 and {row["status"] for row in rows} == {"rejected", "received"}
    assert rows[0]["received_at"] >= rows[1]["received_at"]
    rejected = client.get("/api/v1/inbound-events", {"status": "rejected"}).json()["results"]
    assert [row["id"] for row in rejected] == [rejected_event.pk]
    assert rejected[0]["errors"][0]["path"] == "data.tier"
    by_id = client.get("/api/v1/inbound-events", {"event_id": rejected_event.event_id}).json()["results"]
    assert [row["id"] for row in by_id] == [rejected_event.pk]
    assert client.get("/api/v1/inbound-events", {"source": "teetime"}).json()["results"] == []


def test_event_pages_cover_every_event_once(club_a):
    from crm.events.store import events_store

    events_store(
        club=club_a,
        raw_events=[envelope("member.created", {"member_id": f"M{n}"}, club=club_a) for n in range(7)],
        transport="test",
    )
    client, seen, url = api_for(club_a, *EVENTS), [], "/api/v1/inbound-events?page_size=3"
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(InboundEvent.objects.for_club(club_a).values_list("pk", flat=True))
    assert len(seen) == len(set(seen)) == 7


@pytest.mark.parametrize(
    ("params", "field"), [({"status": "lost"}, "status"), ({"received_since": "yesterday"}, "received_since")]
)
def test_bad_event_filters_are_named(club_a, params, field):
    response = api_for(club_a, *EVENTS).get("/api/v1/inbound-events", params)
    assert response.status_code == 400 and list(response.json()["error"]["details"]["fields"]) == [field]


def test_one_event_shows_its_data_and_reasons(club_a, rejected_event):
    body = api_for(club_a, *EVENTS).get(f"/api/v1/inbound-events/{rejected_event.pk}").json()
    assert body["data"] == {"member_id": "M1", "tier": "Platinum"} and body["status"] == "rejected"


def test_replay_queues_what_now_passes_and_processes_it(
    club_a, rejected_event, monkeypatch, django_capture_on_commit_callbacks
):
    client = api_for(club_a, *EVENTS)
    response = client.post(
        "/api/v1/inbound-events/replay", {"ids": [rejected_event.pk]}, content_type="application/json"
    )
    assert response.json() == {"queued": 0, "still_invalid": 1, "not_replayable": 0}
    monkeypatch.undo()  # the catalog fix
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/inbound-events/replay", {"ids": [rejected_event.pk]}, content_type="application/json"
        )
    assert response.json() == {"queued": 1, "still_invalid": 0, "not_replayable": 0}
    rejected_event.refresh_from_db()
    assert rejected_event.status == "processed"
    member = CustomerProfile.objects.for_club(club_a).get(identifiers__kind="scl_member_id", identifiers__value="M1")
    assert member.membership_tier == "Platinum"
    assert AuditLog.objects.for_club(club_a).filter(action="events.replay").count() == 2


@pytest.mark.parametrize("payload", [{}, {"ids": []}, {"ids": ["x"]}, {"ids": [0]}, {"ids": list(range(1, 1002))}])
def test_replay_validates_its_body(club_a, payload):
    response = api_for(club_a, *EVENTS).post("/api/v1/inbound-events/replay", payload, content_type="application/json")
    assert response.status_code == 400 and "ids" in response.json()["error"]["details"]["fields"]


def test_events_need_the_events_scope(club_a, rejected_event):
    reader = api_for(club_a, "profiles:read", "profiles:write")
    assert reader.get("/api/v1/inbound-events").status_code == 403
    response = reader.post(
        "/api/v1/inbound-events/replay", {"ids": [rejected_event.pk]}, content_type="application/json"
    )
    assert response.status_code == 403 and "events:ingest" in response.json()["error"]["message"]


def test_marketers_sessions_do_not_reach_the_event_log_but_admins_do(client_for, club_a, rejected_event):
    from crm.models import Role

    assert client_for(club_a, Role.MARKETER).get("/api/v1/inbound-events").status_code == 403
    assert client_for(club_a, Role.ADMIN).get("/api/v1/inbound-events").status_code == 200


@override_settings(API_THROTTLE_RATES={"key": "2/min", "club": "1000/min"})
def test_event_reads_are_throttled_per_key(club_a):
    from django.core.cache import cache

    cache.clear()
    client = api_for(club_a, *EVENTS)
    assert [client.get("/api/v1/inbound-events").status_code for _ in range(3)] == [200, 200, 429]


# --- Sending events with a key instead of a signature --------------------------------------------


def post_with(client: Client, events) -> object:
    return client.post("/api/v1/events", data=json.dumps(events), content_type="application/json")


def test_a_key_with_events_ingest_sends_events_without_a_signature(club_a):
    response = post_with(api_for(club_a, *EVENTS), [envelope("member.created", {"member_id": "M7"}, club=club_a)])
    assert response.status_code == 202 and response.json()["accepted"] == 1
    assert InboundEvent.objects.for_club(club_a).get().transport == "http"


def test_a_key_cannot_send_for_another_club_or_without_the_scope(club_a, club_b):
    events = [envelope("member.created", {"member_id": "M7"}, club=club_b)]
    response = post_with(api_for(club_a, *EVENTS), events)
    assert response.status_code == 400 and response.json()["error"]["code"] == "club_mismatch"
    response = post_with(
        api_for(club_a, "profiles:read"), [envelope("member.created", {"member_id": "M7"}, club=club_a)]
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert post_with(api("fw_nope_nope"), events).status_code == 401
    assert not InboundEvent.objects.unscoped_across_clubs().exists()


def test_a_revoked_key_cannot_send(club_a):
    from crm.models import ApiKey
    from crm.services.api_keys import api_key_revoke

    value = key_for(club_a, *EVENTS)
    api_key_revoke(club=club_a, key=ApiKey.objects.for_club(club_a).get(), actor=Actor.system())
    response = post_with(api(value), [envelope("member.created", {"member_id": "M7"}, club=club_a)])
    assert response.status_code == 401
    assert not InboundEvent.objects.for_club(club_a).exists()
