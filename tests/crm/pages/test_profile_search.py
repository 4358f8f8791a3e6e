"""Staff find profiles by name, email, phone or member number; any word of a name matches, multi-word
surnames included, in the list and the admin alike."""

import pytest
from django.urls import reverse

from crm import selectors
from crm.models import Role
from tests.factories import ProfileFactory


def search(club, query: str) -> set[str]:
    found = selectors.profile_search(selectors.profile_active_queryset(club=club), search=query, club=club)
    return {f"{p.first_name} {p.last_name}" for p in found}


@pytest.fixture
def surnames(club_a):
    ProfileFactory(club=club_a, first_name="Anna", last_name="van der Merwe")
    ProfileFactory(club=club_a, first_name="Pieter", last_name="du Plessis")
    ProfileFactory(club=club_a, first_name="Mary Jane", last_name="Smith-Jones")
    ProfileFactory(club=club_a, first_name="Derek", last_name="Vance")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("van der Merwe", {"Anna van der Merwe"}),
        ("Merwe", {"Anna van der Merwe"}),
        ("  merwe ", {"Anna van der Merwe"}),
        ("Anna van d", {"Anna van der Merwe"}),
        ("van der", {"Anna van der Merwe", "Derek Vance"}),  # Vance, Derek: each word starts a name
        ("Plessis", {"Pieter du Plessis"}),
        ("jones", {"Mary Jane Smith-Jones"}),
        ("jane smith", {"Mary Jane Smith-Jones"}),
        ("van", {"Anna van der Merwe", "Derek Vance"}),
        ("der", {"Anna van der Merwe", "Derek Vance"}),
        ("erwe", set()),  # a word must start where a name word starts
        ("van der Merwe Smith", set()),
    ],
)
def test_search_finds_multi_word_surnames_by_any_word(club_a, surnames, query, expected):
    assert search(club_a, query) == expected


def test_admin_search_uses_the_same_name_matching(client_for, club_a, surnames):
    client = client_for(club_a, Role.STAFF)
    response = client.get(reverse("admin:crm_customerprofile_changelist"), {"q": "Merwe"})
    assert response.status_code == 200
    assert b"van der Merwe" in response.content and b"du Plessis" not in response.content


def test_search_of_one_club_never_reaches_another(club_a, club_b, surnames):
    ProfileFactory(club=club_b, first_name="Bram", last_name="van der Merwe")
    assert search(club_b, "merwe") == {"Bram van der Merwe"}


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
