"""POST /api/v1/events: signatures, batches, per-event results, and nothing stored on errors."""

import json
import time

import pytest

from crm.events.signatures import signature_header
from crm.models import Activity, CustomerProfile, InboundEvent
from tests.factories.events import envelope, post_events, secret_for


@pytest.fixture
def scl_secret(club_a):
    return secret_for(club_a, "scl")


def member(club, member_id="M1", **data):
    return envelope(
        "member.created", {"member_id": member_id, "first_name": "Thandi", "last_name": "Nkosi", **data}, club=club
    )


def nothing_stored(club) -> bool:
    return not InboundEvent.objects.for_club(club).exists() and not CustomerProfile.objects.for_club(club).exists()


def test_a_signed_event_is_accepted_stored_and_applied(client, club_a, scl_secret):
    event = member(club_a, email="Thandi@Example.com", phone="082 555 1234", tier="Gold", status="active")
    response = post_events(client, event, secret=scl_secret)
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 1,
        "duplicate": 0,
        "rejected": 0,
        "results": [{"id": event["id"], "status": "accepted"}],
    }
    stored = InboundEvent.objects.for_club(club_a).get()
    assert stored.status == "processed" and stored.transport == "http"
    profile = CustomerProfile.objects.for_club(club_a).get()
    assert (profile.first_name, profile.primary_email, profile.primary_phone, profile.membership_tier) == (
        "Thandi",
        "thandi@example.com",
        "+27825551234",
        "Gold",
    )
    assert Activity.objects.for_club(club_a).get().summary == "Joined as Gold member (active)"


def test_a_batch_answers_per_event(client, club_a, scl_secret):
    good = member(club_a, "M1")
    bad = envelope("member.created", {"first_name": "No id"}, club=club_a)
    unknown = envelope("member.exploded", {"member_id": "M2"}, club=club_a, source="scl")
    response = post_events(client, [good, bad, unknown, good], secret=scl_secret)
    body = response.json()
    assert response.status_code == 202
    assert [result["status"] for result in body["results"]] == ["accepted", "rejected", "rejected", "duplicate"]
    assert body["results"][1]["errors"] == [{"path": "data.member_id", "message": "is required"}]
    assert body["results"][2]["errors"][0]["path"] == "type"
    assert InboundEvent.objects.for_club(club_a).filter(status="rejected").count() == 2
    assert CustomerProfile.objects.for_club(club_a).count() == 1


def test_tampered_body_is_401_and_nothing_is_stored(client, club_a, scl_secret):
    body = json.dumps(member(club_a)).encode()
    header = signature_header(secret=scl_secret, body=body)
    tampered = body.replace(b"Thandi", b"Mallory")
    response = client.post("/api/v1/events", data=tampered, content_type="application/json", HTTP_X_SIGNATURE=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert nothing_stored(club_a)


def test_wrong_secret_is_401(client, club_a, scl_secret):
    assert post_events(client, member(club_a), secret="not-the-secret").status_code == 401
    assert nothing_stored(club_a)


def test_another_sources_secret_does_not_sign_for_scl(client, club_a, scl_secret):
    teetime_secret = secret_for(club_a, "teetime")
    assert post_events(client, member(club_a), secret=teetime_secret).status_code == 401
    assert nothing_stored(club_a)


def test_another_clubs_secret_does_not_sign_for_this_club(client, club_a, club_b, scl_secret):
    bravo_secret = secret_for(club_b, "scl")
    assert post_events(client, member(club_a), secret=bravo_secret).status_code == 401
    assert nothing_stored(club_a)


def test_stale_timestamp_is_401(client, club_a, scl_secret):
    response = post_events(client, member(club_a), secret=scl_secret, timestamp=int(time.time()) - 301)
    assert response.status_code == 401 and "tolerance" in response.json()["error"]["message"]
    assert nothing_stored(club_a)


def test_missing_signature_is_401(client, club_a, scl_secret):
    response = client.post("/api/v1/events", data=json.dumps(member(club_a)), content_type="application/json")
    assert response.status_code == 401
    assert nothing_stored(club_a)


def test_a_replayed_request_only_repeats_duplicates(client, club_a, scl_secret):
    body = json.dumps([member(club_a, "M1"), member(club_a, "M2")]).encode()
    header = signature_header(secret=scl_secret, body=body)
    first = client.post("/api/v1/events", data=body, content_type="application/json", HTTP_X_SIGNATURE=header)
    replay = client.post("/api/v1/events", data=body, content_type="application/json", HTTP_X_SIGNATURE=header)
    assert first.json()["accepted"] == 2
    assert replay.status_code == 202 and replay.json()["duplicate"] == 2
    assert CustomerProfile.objects.for_club(club_a).count() == 2
    assert Activity.objects.for_club(club_a).count() == 2


def test_a_secret_that_was_revoked_no_longer_signs(client, club_a, scl_secret):
    from crm.models import EventSigningSecret

    EventSigningSecret.objects.for_club(club_a).update(is_active=False)
    assert post_events(client, member(club_a), secret=scl_secret).status_code == 401


def test_malformed_json_is_400_and_nothing_is_stored(client, club_a, scl_secret):
    body = b'{"id": "x", "source": "scl",'
    response = post_events(client, None, secret=scl_secret, body=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert nothing_stored(club_a)


@pytest.mark.parametrize("payload", [[], [1, 2], "hello", 42])
def test_a_body_that_is_not_events_is_400(client, club_a, scl_secret, payload):
    assert post_events(client, payload, secret=scl_secret).status_code == 400
    assert nothing_stored(club_a)


def test_a_batch_mixing_clubs_or_sources_is_400(client, club_a, club_b, scl_secret):
    mixed_club = [member(club_a, "M1"), member(club_b, "M2")]
    assert post_events(client, mixed_club, secret=scl_secret).status_code == 400
    mixed_source = [member(club_a, "M1"), envelope("player.created", {"player_id": "P1"}, club=club_a)]
    assert post_events(client, mixed_source, secret=scl_secret).status_code == 400
    assert nothing_stored(club_a)


def test_more_than_a_thousand_events_is_413(client, club_a, scl_secret):
    events = [member(club_a, f"M{index}") for index in range(1001)]
    response = post_events(client, events, secret=scl_secret)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert nothing_stored(club_a)


def test_a_body_over_the_byte_limit_is_413(client, club_a, scl_secret, settings):
    settings.EVENTS_MAX_BODY_BYTES = 2000
    response = post_events(client, member(club_a, notes="x" * 3000), secret=scl_secret)
    assert response.status_code == 413
    assert nothing_stored(club_a)


def test_unknown_club_is_401_without_saying_whether_it_exists(client, club_a, scl_secret):
    event = member(club_a)
    event["club"] = "no-such-club"
    response = post_events(client, event, secret=scl_secret)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The signature does not match."


def test_a_rejected_event_resent_with_the_same_id_and_valid_content_replaces_it(client, club_a, scl_secret):
    bad = envelope("member.created", {"member_id": "M1", "email": "not-an-email"}, club=club_a, event_id="e-1")
    assert post_events(client, bad, secret=scl_secret).json()["rejected"] == 1
    fixed = envelope("member.created", {"member_id": "M1", "email": "ok@example.com"}, club=club_a, event_id="e-1")
    assert post_events(client, fixed, secret=scl_secret).json()["accepted"] == 1
    stored = InboundEvent.objects.for_club(club_a).get()
    assert stored.status == "processed" and stored.errors == []
    assert CustomerProfile.objects.for_club(club_a).get().primary_email == "ok@example.com"
