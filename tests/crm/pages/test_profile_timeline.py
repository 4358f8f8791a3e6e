"""A profile's timeline: newest first, paged by a cursor without gaps or repeats, filtered by source
and type with the filters in the address, in one query per page, with amounts shown once."""

import datetime
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from crm import selectors
from crm.models import Role
from tests.factories import ActivityFactory


def test_timeline_is_newest_first_and_pages_without_gaps_or_repeats(club_a, profile_a):
    base = timezone.now()
    # Ties on occurred_at are common (a batch of events in one second); the id breaks them.
    for index in range(23):
        ActivityFactory(
            profile=profile_a, occurred_at=base - datetime.timedelta(minutes=index // 3), summary=f"a{index}"
        )
    seen, cursor = [], None
    while True:
        page = selectors.profile_timeline(club=club_a, profile=profile_a, cursor=cursor, limit=5)
        seen.extend(page.activities)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 23 and len({a.pk for a in seen}) == 23
    keys = [(a.occurred_at, a.pk) for a in seen]
    assert keys == sorted(keys, reverse=True)


def test_timeline_filters_by_source_and_type(club_a, profile_a):
    ActivityFactory(profile=profile_a, source="teetime", type="round.completed")
    ActivityFactory(profile=profile_a, source="scl", type="membership.renewed")
    ActivityFactory(profile=profile_a, source="messaging", type="message.opened")
    page = selectors.profile_timeline(club=club_a, profile=profile_a, sources=["scl", "messaging"])
    assert {a.type for a in page.activities} == {"membership.renewed", "message.opened"}
    page = selectors.profile_timeline(club=club_a, profile=profile_a, types=["round.completed"])
    assert [a.source for a in page.activities] == ["teetime"]


def test_timeline_page_is_one_query(club_a, profile_a, django_assert_num_queries):
    for _ in range(30):
        ActivityFactory(profile=profile_a)
    first = selectors.profile_timeline(club=club_a, profile=profile_a, limit=10)
    with django_assert_num_queries(1):
        selectors.profile_timeline(club=club_a, profile=profile_a, cursor=first.next_cursor, limit=10)


def test_a_tampered_cursor_is_a_bad_request(client_for, club_a, profile_a):
    client = client_for(club_a, Role.VIEWER)
    response = client.get(reverse("crm:profile_detail", args=[profile_a.pk]), {"cursor": "not-a-cursor!!"})
    assert response.status_code == 400


def test_profile_page_shows_timeline_and_loads_older_activity(client_for, club_a, profile_a):
    for index in range(60):
        ActivityFactory(
            profile=profile_a,
            summary=f"Round number {index:02d}",
            occurred_at=timezone.now() - datetime.timedelta(hours=index),
        )
    client = client_for(club_a, Role.VIEWER)
    page = client.get(reverse("crm:profile_detail", args=[profile_a.pk]))
    assert b"Round number 00" in page.content and b"Round number 55" not in page.content
    older = client.get(
        reverse("crm:profile_detail", args=[profile_a.pk]),
        {"fragment": "timeline", "cursor": page.context["timeline"].next_cursor},
        HTTP_HX_REQUEST="true",
    )
    assert b"Round number 55" in older.content and b"Round number 00" not in older.content


def test_the_any_type_option_means_no_type_filter(client_for, club_a, profile_a):
    ActivityFactory(profile=profile_a, source="scl", type="membership.renewed", summary="Renewed Gold")
    client = client_for(club_a, Role.VIEWER)
    response = client.get(
        reverse("crm:profile_detail", args=[profile_a.pk]),
        {"source": "scl", "type": "", "fragment": "timeline"},
        HTTP_HX_REQUEST="true",
    )
    assert b"Renewed Gold" in response.content


def test_timeline_filters_go_into_the_address_and_survive_a_reload(client_for, club_a, profile_a):
    ActivityFactory(profile=profile_a, source="scl", type="membership.renewed", summary="Renewed Gold")
    ActivityFactory(profile=profile_a, source="teetime", type="round.completed", summary="Played 18 holes")
    client = client_for(club_a, Role.VIEWER)
    url = reverse("crm:profile_detail", args=[profile_a.pk])
    swap = client.get(url, {"fragment": "timeline", "source": "scl", "type": ""}, HTTP_HX_REQUEST="true")
    assert swap["HX-Push-Url"] == f"{url}?source=scl"
    reload = client.get(swap["HX-Push-Url"]).content.decode()
    assert "Renewed Gold" in reload and "Played 18 holes" not in reload
    assert 'value="scl" checked' in reload
    older = client.get(
        url, {"fragment": "timeline", "cursor": "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwx"}, HTTP_HX_REQUEST="true"
    )
    assert "HX-Push-Url" not in older  # paging older activity does not move the address


def test_timeline_shows_amounts_once_with_currency_and_never_zero(client_for, club_a, profile_a):
    ActivityFactory(
        profile=profile_a,
        source="scl",
        type="payment.received",
        summary="Payment received: ZAR 980.00 (Monthly subscription)",
        amount=Decimal("980.00"),
    )
    ActivityFactory(profile=profile_a, type="booking.created", summary="Booked a tee time", amount=Decimal("0"))
    ActivityFactory(
        profile=profile_a,
        source="scl",
        type="membership.renewed",
        summary="Renewed membership until 31 Dec 2026",
        amount=Decimal("10680"),
    )
    body = client_for(club_a, Role.VIEWER).get(reverse("crm:profile_detail", args=[profile_a.pk])).content.decode()
    assert body.count("980.00") == 1
    assert "· 0.00" not in body and "Booked a tee time</p>" in body
    assert "Renewed membership until 31 Dec 2026 · ZAR 10,680.00" in body
