"""Tables that grow with activity page without counting every row and list without their JSON
payloads (crm.edges.admin's big-table defaults)."""

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.edges.admin import CappedPaginator
from crm.models import Activity, CustomerProfile, ProfileTag, Role
from tests.factories import ActivityFactory, ProfileFactory


@pytest.fixture
def small_cap(monkeypatch):
    """A cap of 5 and pages of 2, so a handful of rows shows what 20M would."""
    monkeypatch.setattr(CappedPaginator, "cap", 5)
    monkeypatch.setattr(admin.site._registry[Activity], "list_per_page", 2)


def _counts(queries) -> list[str]:
    return [query["sql"] for query in queries if "COUNT(" in query["sql"].upper()]


def _unbounded_counts(queries) -> list[str]:
    return [sql for sql in _counts(queries) if not re.search(r"\bLIMIT\b", sql, re.IGNORECASE)]


def _sorted_counts(queries) -> list[str]:
    return [sql for sql in _counts(queries) if re.search(r"\bORDER BY\b", sql, re.IGNORECASE)]


def test_activity_changelist_runs_no_unbounded_count(client_for, club_a, profile_a, small_cap):
    ActivityFactory.create_batch(8, profile=profile_a)
    client = client_for(club_a, Role.OWNER)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:crm_activity_changelist"))
    assert response.status_code == 200
    assert _unbounded_counts(queries.captured_queries) == []


def test_the_capped_count_reads_rows_in_no_order(client_for, club_a, profile_a, small_cap):
    # Sorting inside the LIMITed count would read and sort the whole club's rows to count 10,001.
    ActivityFactory.create_batch(8, profile=profile_a)
    client = client_for(club_a, Role.OWNER)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("admin:crm_activity_changelist"))
    assert _counts(queries.captured_queries) and _sorted_counts(queries.captured_queries) == []


def test_the_activity_page_is_read_newest_stored_first(client_for, club_a, profile_a, small_cap):
    # No index leads with the club and occurred_at; the primary key serves "newest stored first".
    ActivityFactory.create_batch(3, profile=profile_a)
    client = client_for(club_a, Role.OWNER)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("admin:crm_activity_changelist"))
    pages = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "crm_activity"."id"')]
    assert pages and all(re.search(r'ORDER BY "crm_activity"."id" DESC\s+LIMIT', sql) for sql in pages)


@pytest.mark.parametrize(
    "changelist",
    [
        "crm_activity",
        "crm_auditlog",
        "crm_customerprofile",
        "crm_inboundevent",
        "crm_mergerecord",
        "crm_mergesuggestion",
        "crm_profileidentifier",
        "marketing_messagesend",
    ],
)
def test_no_big_table_changelist_counts_every_row(client_for, club_a, profile_a, changelist):
    client = client_for(club_a, Role.ADMIN)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(f"admin:{changelist}_changelist"))
    assert response.status_code == 200
    assert _unbounded_counts(queries.captured_queries) == []
    assert _sorted_counts(queries.captured_queries) == []


def test_capped_count_reads_at_most_one_row_past_the_cap(club_a, profile_a, small_cap):
    ActivityFactory.create_batch(8, profile=profile_a)
    paginator = CappedPaginator(Activity.objects.for_club(club_a).order_by("pk"), per_page=2)
    assert paginator.count == 6
    assert CappedPaginator(Activity.objects.for_club(club_a).order_by("pk")[:3], per_page=2).count == 3


def test_activity_changelist_still_pages(client_for, club_a, profile_a, small_cap):
    for number in range(4):
        ActivityFactory(profile=profile_a, summary=f"Round number {number}")
    client = client_for(club_a, Role.OWNER)
    url = reverse("admin:crm_activity_changelist")
    first, second = client.get(url), client.get(url, {"p": 2})
    shown = [{n for n in range(4) if f"Round number {n}".encode() in page.content} for page in (first, second)]
    assert len(shown[0]) == len(shown[1]) == 2
    assert shown[0].isdisjoint(shown[1])


def test_activity_list_leaves_properties_out_but_the_detail_shows_them(client_for, club_a, profile_a):
    activity = ActivityFactory(profile=profile_a, properties={"course": "Old Course North"})
    client = client_for(club_a, Role.OWNER)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("admin:crm_activity_changelist"))
    row_selects = [q["sql"] for q in queries.captured_queries if 'FROM "crm_activity"' in q["sql"]]
    assert row_selects and not any('"crm_activity"."properties"' in sql for sql in row_selects)
    detail = client.get(reverse("admin:crm_activity_change", args=[activity.pk]))
    assert b"Old Course North" in detail.content


@pytest.fixture
def profile_pages_of_two(monkeypatch):
    monkeypatch.setattr(admin.site._registry[CustomerProfile], "list_per_page", 2)


def test_a_count_past_the_cap_reads_more_than_the_cap(client_for, club_a, profile_a, small_cap):
    ActivityFactory.create_batch(8, profile=profile_a)
    response = client_for(club_a, Role.OWNER).get(reverse("admin:crm_activity_changelist"))
    assert b"more than 5 activities" in response.content
    assert b"6 activities" not in response.content


def test_a_count_within_the_cap_is_exact(client_for, club_a, profile_a, small_cap):
    ActivityFactory.create_batch(4, profile=profile_a)
    response = client_for(club_a, Role.OWNER).get(reverse("admin:crm_activity_changelist"))
    assert b"4 activities" in response.content
    assert b"more than" not in response.content


def test_a_search_past_the_cap_reads_more_than_the_cap(client_for, club_a, profile_a, small_cap):
    ActivityFactory.create_batch(8, profile=profile_a, type="round.completed")
    client = client_for(club_a, Role.OWNER)
    response = client.get(reverse("admin:crm_activity_changelist"), {"q": "round.completed"})
    assert b"more than 5 results" in response.content
    assert b"6 results" not in response.content


def test_past_the_cap_the_list_offers_no_select_all(client_for, club_a, small_cap, profile_pages_of_two):
    ProfileFactory.create_batch(8, club=club_a)
    response = client_for(club_a, Role.ADMIN).get(reverse("admin:crm_customerprofile_changelist"))
    assert not re.search(rb"Select all \d", response.content)  # the page's own "select all" box stays
    assert b"more than 5 customer profiles" in response.content


def test_within_the_cap_the_list_offers_select_all(client_for, club_a, small_cap, profile_pages_of_two):
    ProfileFactory.create_batch(4, club=club_a)
    response = client_for(club_a, Role.ADMIN).get(reverse("admin:crm_customerprofile_changelist"))
    assert b"Select all 4 customer profiles" in response.content


def _tag_across_all(client, profile):
    return client.post(
        reverse("admin:crm_customerprofile_changelist"),
        {
            "action": "tag_selected",
            "index": "0",
            "select_across": "1",
            "_selected_action": [profile.pk],
            "apply": "1",
            "tag_name": "Everyone",
        },
    )


def test_an_action_across_more_rows_than_the_cap_is_refused(client_for, club_a, small_cap):
    profiles = ProfileFactory.create_batch(8, club=club_a)
    client = client_for(club_a, Role.ADMIN)
    response = _tag_across_all(client, profiles[0])
    assert response.status_code == 302
    assert not ProfileTag.objects.for_club(club_a).exists()
    assert "too many to act on at once" in str(list(client.get(response.url).context["messages"])[0])


def test_an_action_across_rows_within_the_cap_runs_on_all_of_them(client_for, club_a, small_cap):
    profiles = ProfileFactory.create_batch(4, club=club_a)
    _tag_across_all(client_for(club_a, Role.ADMIN), profiles[0])
    assert set(ProfileTag.objects.for_club(club_a).values_list("profile_id", flat=True)) == {p.pk for p in profiles}
