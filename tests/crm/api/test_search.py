"""Profile search through the API: names, member numbers, emails, phones; full-text on PostgreSQL."""

import pytest
from django.db import connection

from crm import selectors
from crm.models import CustomerProfile
from tests.factories import IdentifierFactory, ProfileFactory
from tests.factories.api import api_for

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the full-text index exists on PostgreSQL only (SQLite uses LIKE)"
)


@pytest.fixture
def people(club_a):
    ProfileFactory(club=club_a, first_name="Anna", last_name="van der Merwe", member_number="M1042")
    ProfileFactory(club=club_a, first_name="Seán", last_name="O'Brien", member_number="M2001")
    ProfileFactory(club=club_a, first_name="Mary Jane", last_name="Smith-Jones", primary_email="mj@alpha.test")
    tom = ProfileFactory(club=club_a, first_name="Tom", last_name="Annandale", primary_email="tom@alpha.test")
    IdentifierFactory(profile=tom, kind="email", value="tommy@work.test")
    IdentifierFactory(profile=tom, kind="phone", value="+27825550101")


def names(club, query: str) -> list[str]:
    rows = api_for(club).get("/api/v1/profiles", {"q": query, "ordering": "last_name"}).json()["results"]
    return [f"{row['first_name']} {row['last_name']}" for row in rows]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ann", ["Tom Annandale", "Anna van der Merwe"]),  # a word of the first or last name, by prefix
        ("anna merwe", ["Anna van der Merwe"]),
        ("o'brien", ["Seán O'Brien"]),
        ("brien", ["Seán O'Brien"]),
        ("seán", ["Seán O'Brien"]),
        ("jones", ["Mary Jane Smith-Jones"]),
        ("m1042", ["Anna van der Merwe"]),
        ("M20", ["Seán O'Brien"]),
        ("TOMMY@work.test", ["Tom Annandale"]),  # an identifier, not only the primary email
        ("mj@alpha.test", ["Mary Jane Smith-Jones"]),
        ("082 555 0101", ["Tom Annandale"]),
        ("merwe smith", []),
        ("'&|!:*()", []),  # tsquery syntax is never passed through
    ],
)
def test_search_finds_people_the_way_staff_type_them(club_a, people, query, expected):
    assert names(club_a, query) == expected


def test_search_never_reaches_another_club(club_a, club_b, people):
    ProfileFactory(club=club_b, first_name="Anna", last_name="Bekker")
    assert names(club_b, "anna") == ["Anna Bekker"]
    assert names(club_b, "tom@alpha.test") == []


@on_postgresql
def test_name_search_uses_the_full_text_index(club_a, people):
    # A club of a few thousand people, so the planner weighs the index against the club's rows
    # as it would in production (with a handful of rows it rightly reads them all).
    CustomerProfile.objects.bulk_create(
        CustomerProfile(club=club_a, first_name=f"Player{n}", last_name="Filler", member_number=f"F{n}")
        for n in range(5000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_customerprofile")
    queryset = selectors.profile_search(selectors.profile_active_queryset(club=club_a), search="anna van", club=club_a)
    plan = queryset.explain()
    assert "profile_search_document" in plan, plan
    assert [p.last_name for p in queryset] == ["van der Merwe"]
