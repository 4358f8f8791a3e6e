"""The rules that decide whether two records are one person (pure functions, no database)."""

from datetime import date

import pytest

from crm.identity.matching import (
    MatchPolicy,
    PersonFacts,
    is_blocked,
    match_score,
    name_key,
    names_compatible,
)

POLICY = MatchPolicy()


def person(first="", last="", born=None, postcode="", emails=(), phones=(), **strong):
    return PersonFacts(first, last, born, postcode, frozenset(emails), frozenset(phones), strong)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (person("William", "Smith"), person("Bill", "Smith")),  # nickname
        (person("J", "van der Merwe"), person("Johan", "Van Der Merwe")),  # initial, particles
        (person("Smith", "John"), person("John", "Smith")),  # first and last swapped
        (person("Jon", "Smyth"), person("John", "Smith")),  # typos
        (person(), person("Ann", "Lee")),  # no names on one side: nothing refuses
    ],
)
def test_names_that_may_share_a_key(left, right):
    assert names_compatible(left, right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (person("Ann", "Smith"), person("Bob", "Smith")),  # a couple sharing an inbox
        (person("Thabo", "Nkosi", date(1990, 1, 1)), person("Sipho", "Nkosi", date(1990, 1, 1))),  # twins
        (person("John", "Smith", date(1960, 5, 1)), person("John", "Smith", date(1990, 3, 9))),  # father, son
        (person("Ann", "Smith"), person("Ann", "Dlamini")),  # different surnames
    ],
)
def test_names_that_must_not_share_a_key(left, right):
    assert not names_compatible(left, right)


def test_same_name_birthday_and_postcode_scores_above_auto_merge():
    left = person("Katherine", "du Plessis", date(1984, 2, 11), "7700")
    right = person("Kate", "Du Plessis", date(1984, 2, 11), "7700")
    result = match_score(left, right)
    assert result.score >= POLICY.auto_merge
    assert result.evidence["date_of_birth"]["result"] == "same"


def test_a_name_alone_is_not_enough_for_anything():
    assert match_score(person("John", "Smith"), person("John", "Smith")).score < POLICY.review


def test_a_similar_name_and_birthday_goes_to_review_not_auto_merge():
    result = match_score(person("Jon", "Smyth", date(1970, 1, 2)), person("John", "Smith", date(1970, 1, 2)))
    assert POLICY.review <= result.score < POLICY.auto_merge


def test_different_birthdays_or_system_ids_veto_a_match():
    assert match_score(person("Ann", "Lee", date(1980, 1, 1)), person("Ann", "Lee", date(1981, 1, 1))).score < 0.5
    vetoed = match_score(
        person("Ann", "Lee", date(1980, 1, 1), "7700", scl_member_id="M1"),
        person("Ann", "Lee", date(1980, 1, 1), "7700", scl_member_id="M2"),
    )
    assert vetoed.score < POLICY.review and vetoed.evidence["scl_member_id"]["weight"] == "veto"


def test_twins_with_everything_else_equal_are_not_matched():
    shared = {"born": date(2001, 6, 6), "postcode": "2196", "emails": ["nkosi@example.com"]}
    assert match_score(person("Thabo", "Nkosi", **shared), person("Lerato", "Nkosi", **shared)).score < POLICY.review


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "test@test.com"),
        ("email", "noreply@club.co.za"),
        ("phone", "+27000000000"),
        ("phone", "+27123456789"),
        ("scl_member_id", "NULL"),
        ("teetime_player_id", "n/a"),
    ],
)
def test_placeholder_values_are_blocked(kind, value):
    assert is_blocked(kind, value)


def test_real_values_and_club_blocklists():
    assert not is_blocked("email", "ann@example.com")
    assert not is_blocked("phone", "+27821234567")
    assert is_blocked("email", "reception@alpha.test", frozenset({"reception@alpha.test"}))


def test_blocking_key_survives_spelling_and_particles():
    assert name_key("John", "Smith") == name_key("Jon", "Smyth")
    assert name_key("Pieter", "van der Merwe") == name_key("P", "Merwe")
