import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from crm import selectors
from crm.models import Activity, Role
from tests.factories import ActivityFactory, ProfileFactory


def test_dashboard_shows_counts_by_status(client_for, club_a):
    ProfileFactory.create_batch(3, club=club_a, membership_status="active", lifecycle_stage="active")
    ProfileFactory(club=club_a, membership_status="lapsed", lifecycle_stage="lapsed")
    ProfileFactory(club=club_a, membership_status="active", merged_into=ProfileFactory(club=club_a))
    client = client_for(club_a, Role.VIEWER)
    response = client.get(reverse("dashboard"))
    counts = response.context["counts"]
    assert counts.total == 5  # the merged-away profile is not a person of its own
    assert dict((value, count) for value, _, count in counts.by_status)["active"] == 4
    assert dict((value, count) for value, _, count in counts.by_status)["lapsed"] == 1
    assert b'hx-get="/dashboard/counts/"' in response.content


def test_dashboard_counts_are_one_query(club_a, django_assert_num_queries):
    ProfileFactory.create_batch(5, club=club_a)
    with django_assert_num_queries(1):
        selectors.dashboard_counts(club=club_a)


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
    response = client.get(reverse("profile_detail", args=[profile_a.pk]), {"cursor": "not-a-cursor!!"})
    assert response.status_code == 400


def test_profile_page_shows_timeline_and_loads_older_activity(client_for, club_a, profile_a):
    for index in range(60):
        ActivityFactory(
            profile=profile_a,
            summary=f"Round number {index:02d}",
            occurred_at=timezone.now() - datetime.timedelta(hours=index),
        )
    client = client_for(club_a, Role.VIEWER)
    page = client.get(reverse("profile_detail", args=[profile_a.pk]))
    assert b"Round number 00" in page.content and b"Round number 55" not in page.content
    older = client.get(
        reverse("profile_detail", args=[profile_a.pk]),
        {"fragment": "timeline", "cursor": page.context["timeline"].next_cursor},
        HTTP_HX_REQUEST="true",
    )
    assert b"Round number 55" in older.content and b"Round number 00" not in older.content


def test_admin_profile_page_shows_the_timeline(client_for, club_a, profile_a):
    ActivityFactory(profile=profile_a, summary="Won the monthly medal")
    client = client_for(club_a, Role.STAFF)
    page = client.get(reverse("admin:crm_customerprofile_change", args=[profile_a.pk]))
    assert b"Won the monthly medal" in page.content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Anders", True),
        ("ali", True),
        ("alice anders", True),
        ("ALICE@ALPHA.TEST", True),
        ("082 123 4567", True),
        ("M-777", True),
        ("Zebedee", False),
    ],
)
def test_profile_search_matches_names_emails_phones_and_member_numbers(club_a, profile_a, query, expected):
    profile_a.primary_phone = "+27821234567"
    profile_a.member_number = "M-777"
    profile_a.save()
    ProfileFactory(club=club_a, first_name="Other", last_name="Person", primary_email="other@alpha.test")
    found = selectors.profile_search(selectors.profile_active_queryset(club=club_a), search=query, club=club_a)
    assert (profile_a in list(found)) is expected


def test_placeholder_pages_say_plainly_they_are_not_built(client_for, club_a):
    client = client_for(club_a, Role.MARKETER)
    for name in ("campaigns", "social", "intelligence"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert b"Not available yet" in response.content


def test_healthz_reports_scheduler_heartbeat(client, db):
    from crm.tasks import record_scheduler_heartbeat

    assert client.get("/healthz").json()["scheduler_last_heartbeat"] is None
    record_scheduler_heartbeat()
    assert client.get("/healthz").json()["scheduler_last_heartbeat"] is not None


def test_activity_admin_list_is_read_only(client_for, club_a, profile_a):
    activity = ActivityFactory(profile=profile_a)
    client = client_for(club_a, Role.OWNER)
    response = client.post(reverse("admin:crm_activity_change", args=[activity.pk]), {"summary": "rewritten"})
    assert response.status_code == 403
    assert Activity.objects.for_club(club_a).get().summary == activity.summary


def test_login_page_renders_and_signs_staff_in_with_an_audit_row(client, club_a):
    from crm.models import AuditAction, AuditLog
    from tests.conftest import staff_in

    user = staff_in(club_a, Role.MARKETER, email="mia@alpha.test")
    page = client.get(reverse("account_login"))
    assert page.status_code == 200 and b"sign up" not in page.content.lower()
    response = client.post(reverse("account_login"), {"login": "Mia@Alpha.test", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert AuditLog.objects.unscoped_across_clubs().filter(action=AuditAction.LOGIN, actor=user).count() == 1


def test_wrong_password_does_not_sign_in(client, club_a):
    from tests.conftest import staff_in

    staff_in(club_a, Role.MARKETER, email="mia@alpha.test")
    response = client.post(reverse("account_login"), {"login": "mia@alpha.test", "password": "wrong"})
    assert response.status_code == 200
    assert client.get(reverse("dashboard")).status_code == 302


def test_the_any_type_option_means_no_type_filter(client_for, club_a, profile_a):
    ActivityFactory(profile=profile_a, source="scl", type="membership.renewed", summary="Renewed Gold")
    client = client_for(club_a, Role.VIEWER)
    response = client.get(
        reverse("profile_detail", args=[profile_a.pk]),
        {"source": "scl", "type": "", "fragment": "timeline"},
        HTTP_HX_REQUEST="true",
    )
    assert b"Renewed Gold" in response.content
