"""The profile list: status filters, export with the list's filters, paging with a total, empty
results that say why, and htmx fragments."""

import csv
import io

import pytest
from django.urls import reverse

from crm import selectors
from crm.models import Role
from tests.factories import ProfileFactory


def test_an_unknown_status_value_filters_nothing(client_for, club_a):
    ProfileFactory.create_batch(2, club=club_a)
    client = client_for(club_a, Role.VIEWER)
    response = client.get(reverse("crm:profile_list"), {"status": "bogus"})
    assert response.context["page"].paginator.count == 2
    assert not response.context["filters"].active


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_follows_status_and_search_like_the_list(client_for, club_a):
    ProfileFactory(club=club_a, first_name="Anna", last_name="van der Merwe", membership_status="lapsed")
    ProfileFactory(club=club_a, first_name="Bets", last_name="van der Merwe", membership_status="active")
    ProfileFactory(club=club_a, first_name="Carl", last_name="Other", membership_status="lapsed")
    client = client_for(club_a, Role.ADMIN)
    rows = read_csv(client.get(reverse("crm:profile_export"), {"q": "merwe", "status": "lapsed"}))
    assert [row["first_name"] for row in rows] == ["Anna"]
    rows = read_csv(client.get(reverse("crm:profile_export"), {"status": "lapsed"}))
    assert sorted(row["first_name"] for row in rows) == ["Anna", "Carl"]


def test_export_link_carries_the_filters_on_the_page_and_after_a_live_search(client_for, club_a):
    ProfileFactory(club=club_a, last_name="van der Merwe", membership_status="lapsed")
    client = client_for(club_a, Role.ADMIN)
    page = client.get(reverse("crm:profile_list"), {"q": "van der", "status": "lapsed"}).content.decode()
    assert 'href="/profiles/export.csv?q=van+der&amp;status=lapsed"' in page
    fragment = client.get(reverse("crm:profile_list"), {"q": "merwe", "status": ""}, HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert "<html" not in body
    assert 'href="/profiles/export.csv?q=merwe"' in body
    assert fragment["HX-Push-Url"] == "/profiles/?q=merwe"


@pytest.fixture
def twelve_in_pages_of_five(club_a, monkeypatch):
    monkeypatch.setattr(selectors, "PROFILE_PAGE_SIZE", 5)
    for index in range(12):
        ProfileFactory(club=club_a, first_name="P", last_name=f"Name{index:02d}")


def test_profile_list_pages_through_everyone_once_in_order(client_for, club_a, twelve_in_pages_of_five):
    client = client_for(club_a, Role.VIEWER)
    seen = []
    for number in (1, 2, 3):
        response = client.get(reverse("crm:profile_list"), {"page": number})
        seen += [p.last_name for p in response.context["profiles"]]
    assert seen == [f"Name{index:02d}" for index in range(12)]


def test_the_first_page_shows_the_total_and_a_next_link(client_for, club_a, twelve_in_pages_of_five):
    first = client_for(club_a, Role.VIEWER).get(reverse("crm:profile_list")).content.decode()
    assert "12 profiles" in first and "Page 1 of 3" in first and "Next" in first


def test_the_last_page_over_htmx_links_back_and_pushes_its_address(client_for, club_a, twelve_in_pages_of_five):
    last = client_for(club_a, Role.VIEWER).get(reverse("crm:profile_list"), {"page": 3}, HTTP_HX_REQUEST="true")
    assert "Previous" in last.content.decode() and "Next →" not in last.content.decode()
    assert last["HX-Push-Url"] == "/profiles/?page=3"


@pytest.mark.parametrize(("asked", "shown"), [(99, 3), ("x", 1)])
def test_a_page_past_the_end_or_garbled_shows_the_nearest_real_page(
    client_for, club_a, twelve_in_pages_of_five, asked, shown
):
    response = client_for(club_a, Role.VIEWER).get(reverse("crm:profile_list"), {"page": asked})
    assert response.context["page"].number == shown


def test_profile_list_page_is_a_count_and_one_page_query(club_a, django_assert_num_queries):
    ProfileFactory.create_batch(8, club=club_a)
    filters = selectors.ProfileFilters(search="", status="active")
    with django_assert_num_queries(2):
        page = selectors.profile_list_page(club=club_a, filters=filters, page=1)
        assert page.paginator.count == 8 and len(list(page.object_list)) == 8


def test_an_empty_filtered_list_says_nothing_matches(client_for, club_a):
    ProfileFactory(club=club_a, membership_status="active")
    client = client_for(club_a, Role.VIEWER)
    body = client.get(reverse("crm:profile_list"), {"status": "resigned"}).content.decode()
    assert "No profiles match these filters (status Resigned)" in body
    assert "No profiles yet" not in body


def test_an_empty_club_says_profiles_arrive_from_the_systems(client_for, club_a):
    body = client_for(club_a, Role.VIEWER).get(reverse("crm:profile_list")).content.decode()
    assert "No profiles yet" in body and "match these filters" not in body


def test_history_restore_gets_the_whole_page(client_for, club_a):
    client = client_for(club_a, Role.VIEWER)
    response = client.get(
        reverse("crm:profile_list"), {"q": "x"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert b"<html" in response.content
