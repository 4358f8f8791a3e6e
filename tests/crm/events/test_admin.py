"""The dead-letter view and signing secrets in the admin, scoped to the staff member's club."""

import re

from django.db import connection
from django.urls import reverse

from crm.models import CustomerProfile, EventSigningSecret, InboundEvent, Role
from tests.conftest import staff_in
from tests.factories.events import envelope, post_events

CHANGELIST = "admin:crm_inboundevent_changelist"


def test_dead_letter_view_lists_problems_with_their_reasons(client_for, club_a, rejected_event):
    response = client_for(club_a, Role.ADMIN).get(reverse(CHANGELIST), {"attention": "yes"})
    assert response.status_code == 200
    text = response.content.decode()
    assert rejected_event.event_id in text
    assert "data.tier" in text and "at most 5" in text
    processed = InboundEvent.objects.for_club(club_a).get(status="processed")
    assert processed.event_id not in text


def test_replay_action_processes_the_event_after_the_fix(client_for, club_a, rejected_event, monkeypatch):
    client = client_for(club_a, Role.ADMIN)
    monkeypatch.undo()  # the catalog fix ships
    response = client.post(
        reverse(CHANGELIST), {"action": "replay_selected", "_selected_action": [rejected_event.pk]}, follow=True
    )
    assert "Queued 1 event(s)" in response.content.decode()
    rejected_event.refresh_from_db()
    assert rejected_event.status == "processed"
    assert CustomerProfile.objects.for_club(club_a).get(identifiers__value="M1").membership_tier == "Platinum"


def test_another_clubs_staff_neither_see_nor_replay_the_events(client_for, club_a, club_b, rejected_event, monkeypatch):
    client = client_for(club_b, Role.ADMIN)
    listing = client.get(reverse(CHANGELIST), {"attention": "yes"})
    assert rejected_event.event_id not in listing.content.decode()
    detail = client.get(reverse("admin:crm_inboundevent_change", args=[rejected_event.pk]))
    assert detail.status_code in (302, 404) and rejected_event.event_id.encode() not in detail.content
    monkeypatch.undo()
    client.post(reverse(CHANGELIST), {"action": "replay_selected", "_selected_action": [rejected_event.pk]})
    rejected_event.refresh_from_db()
    assert rejected_event.status == "rejected"


def test_marketers_do_not_reach_the_event_log(client, club_a, rejected_event):
    client.force_login(staff_in(club_a, Role.MARKETER))
    assert client.get(reverse(CHANGELIST)).status_code == 403


def test_a_secret_created_in_the_admin_is_shown_once_works_and_is_encrypted(client_for, club_a):
    client = client_for(club_a, Role.ADMIN)
    response = client.post(
        reverse("admin:crm_eventsigningsecret_add"), {"source": "teetime", "label": "TeeTime prod"}, follow=True
    )
    shown = re.search(r"will not be shown again: ([A-Za-z0-9_-]+)", response.content.decode())
    assert shown, "the new secret is shown on creation"
    value = shown.group(1)
    secret = EventSigningSecret.objects.for_club(club_a).get()

    change_page = client.get(reverse("admin:crm_eventsigningsecret_change", args=[secret.pk])).content.decode()
    assert value not in change_page
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM crm_eventsigningsecret WHERE id = %s", [secret.pk])
        stored = cursor.fetchone()[0]
    assert value not in stored

    event = envelope("player.created", {"player_id": "P1"}, club=club_a)
    assert post_events(client, [event], secret=value).status_code == 202
    assert CustomerProfile.objects.for_club(club_a).count() == 1
