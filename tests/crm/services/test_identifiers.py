import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode
from crm.identity.identifiers import identifier_normalise
from crm.models import ProfileIdentifier
from crm.services.identifiers import identifier_attach
from tests.factories import IdentifierFactory, ProfileFactory


@pytest.mark.parametrize(
    ("kind", "raw", "region", "expected"),
    [
        ("email", "  Alice.Anders@Example.COM ", "ZA", "alice.anders@example.com"),
        ("phone", "082 123 4567", "ZA", "+27821234567"),
        ("phone", "+27 (82) 123-4567", "GB", "+27821234567"),
        ("phone", "07911 123456", "GB", "+447911123456"),
        ("scl_member_id", "  M-00042 ", "ZA", "M-00042"),
        ("loyalty_card", " 9988 ", "ZA", "9988"),
    ],
)
def test_identifiers_are_normalised(kind, raw, region, expected):
    assert identifier_normalise(kind=kind, raw_value=raw, region=region) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("email", "not-an-email"), ("email", "   "), ("phone", "12"), ("phone", "hello"), ("Bad Kind!", "x")],
)
def test_invalid_identifiers_are_refused_with_a_code(kind, raw):
    with pytest.raises(CrmError) as error:
        identifier_normalise(kind=kind, raw_value=raw, region="ZA")
    assert error.value.code == CrmErrorCode.INVALID_IDENTIFIER


def test_two_spellings_of_one_phone_are_one_identifier(club_a):
    profile = ProfileFactory(club=club_a)
    now = timezone.now()
    first = identifier_attach(
        club=club_a, profile=profile, kind="phone", raw_value="082 123 4567", source="scl", seen_at=now
    )
    second = identifier_attach(
        club=club_a,
        profile=profile,
        kind="phone",
        raw_value="+27821234567",
        source="teetime",
        seen_at=now + timezone.timedelta(hours=1),
    )
    assert first.pk == second.pk
    assert ProfileIdentifier.objects.for_club(club_a).count() == 1
    assert ProfileIdentifier.objects.for_club(club_a).get().last_seen_at == now + timezone.timedelta(hours=1)


def test_strong_key_has_one_owner_per_club(club_a):
    alice, bob = ProfileFactory(club=club_a), ProfileFactory(club=club_a)
    now = timezone.now()
    identifier_attach(club=club_a, profile=alice, kind="scl_member_id", raw_value="M1", source="scl", seen_at=now)
    with pytest.raises(CrmError) as error:
        identifier_attach(club=club_a, profile=bob, kind="scl_member_id", raw_value="M1", source="scl", seen_at=now)
    assert error.value.code == CrmErrorCode.IDENTIFIER_TAKEN
    # The database holds the line even if the service check is bypassed (concurrent writers).
    with pytest.raises(IntegrityError), transaction.atomic():
        IdentifierFactory(profile=bob, kind="scl_member_id", value="M1", source="scl")
    assert list(ProfileIdentifier.objects.for_club(club_a).values_list("profile_id", flat=True)) == [alice.pk]


def test_shared_email_may_belong_to_two_people_but_once_each(club_a):
    husband, wife = ProfileFactory(club=club_a), ProfileFactory(club=club_a)
    now = timezone.now()
    for profile in (husband, wife):
        identifier_attach(
            club=club_a, profile=profile, kind="email", raw_value="Family@Example.com", source="scl", seen_at=now
        )
    assert ProfileIdentifier.objects.for_club(club_a).filter(value="family@example.com").count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        IdentifierFactory(profile=wife, kind="email", value="family@example.com", source="scl")


def test_the_same_key_in_two_clubs_is_two_people(club_a, club_b):
    now = timezone.now()
    for club in (club_a, club_b):
        identifier_attach(
            club=club, profile=ProfileFactory(club=club), kind="handicap_id", raw_value="H-1", source="scl", seen_at=now
        )
    assert ProfileIdentifier.objects.for_club(club_a).count() == 1
    assert ProfileIdentifier.objects.for_club(club_b).count() == 1
