import pytest

from crm.errors import CrmError, CrmErrorCode, require_in_club
from crm.kernel.tenancy import ClubScopeError
from crm.models import Activity, CustomerProfile, ProfileIdentifier
from tests.factories import ActivityFactory, ProfileFactory


def test_query_without_club_refuses_to_run(profile_a):
    with pytest.raises(ClubScopeError):
        list(CustomerProfile.objects.all())
    with pytest.raises(ClubScopeError):
        CustomerProfile.objects.filter(first_name="Alice").count()
    with pytest.raises(ClubScopeError):
        CustomerProfile.objects.get(pk=profile_a.pk)
    with pytest.raises(ClubScopeError):
        CustomerProfile.objects.filter(pk=profile_a.pk).update(first_name="Mallory")
    with pytest.raises(ClubScopeError):
        CustomerProfile.objects.filter(pk=profile_a.pk).delete()
    profile_a.refresh_from_db()
    assert profile_a.first_name == "Alice"


def test_filtering_on_none_club_is_an_error_not_an_empty_result(profile_a):
    with pytest.raises(ClubScopeError):
        CustomerProfile.objects.for_club(None)
    with pytest.raises(ClubScopeError):
        CustomerProfile.objects.filter(club=None)


def test_for_club_returns_only_that_clubs_rows(club_a, club_b, profile_a):
    ProfileFactory(club=club_b, first_name="Bob")
    assert list(CustomerProfile.objects.for_club(club_a).values_list("first_name", flat=True)) == ["Alice"]
    assert list(CustomerProfile.objects.filter(club_id=club_b.pk).values_list("first_name", flat=True)) == ["Bob"]


def test_excluding_a_club_does_not_count_as_scoping(club_a, profile_a):
    with pytest.raises(ClubScopeError):
        list(CustomerProfile.objects.exclude(club=club_a))


def test_rows_reached_through_a_loaded_object_are_scoped_by_it(profile_a):
    ActivityFactory(profile=profile_a)
    profile = CustomerProfile.objects.for_club(profile_a.club).get(pk=profile_a.pk)
    assert profile.activities.count() == 1
    prefetched = CustomerProfile.objects.for_club(profile_a.club).prefetch_related("activities", "identifiers")
    assert [len(p.activities.all()) for p in prefetched] == [1]


def test_platform_escape_hatch_is_explicit(club_a, club_b):
    ActivityFactory(profile=ProfileFactory(club=club_a))
    ActivityFactory(profile=ProfileFactory(club=club_b))
    assert Activity.objects.unscoped_across_clubs().count() == 2
    assert ProfileIdentifier.objects.unscoped_across_clubs().count() == 0


def test_bulk_update_through_one_club_never_writes_another_clubs_rows(club_a, club_b):
    mine = ProfileFactory(club=club_a, first_name="Alice")
    theirs = ProfileFactory(club=club_b, first_name="Bertie")
    mine.first_name, theirs.first_name = "Alicia", "Mallory"
    CustomerProfile.objects.for_club(club_a).bulk_update([mine, theirs], ["first_name"])
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.first_name, theirs.first_name) == ("Alicia", "Bertie")


def test_bulk_create_gives_each_object_its_own_row_and_id(club_a):
    from crm.models import Activity

    profiles = CustomerProfile.objects.bulk_create(
        [CustomerProfile(club=club_a, first_name=f"P{index}", custom_attributes={"n": index}) for index in range(30)]
    )
    for index, profile in enumerate(profiles):
        stored = CustomerProfile.objects.for_club(club_a).get(pk=profile.pk)
        assert (stored.first_name, stored.custom_attributes, stored.created_at is not None) == (
            f"P{index}",
            {"n": index},
            True,
        )
    first = ActivityFactory(profile=profiles[0])
    twin = Activity(
        club=club_a,
        profile=profiles[0],
        occurred_at=first.occurred_at,
        source="scl",
        type="x",
        summary="",
        inbound_event=None,
    )
    Activity.objects.bulk_create([twin], ignore_conflicts=True)  # no conflict target here: inserted
    assert Activity.objects.for_club(club_a).filter(profile=profiles[0]).count() == 2


def test_require_in_club_lets_the_clubs_own_objects_through(club_a):
    require_in_club(club_a, ProfileFactory(club=club_a), ProfileFactory(club=club_a))


def test_require_in_club_answers_another_clubs_object_as_not_found(club_a, club_b):
    theirs = ProfileFactory(club=club_b)

    with pytest.raises(CrmError) as refused:
        require_in_club(club_a, ProfileFactory(club=club_a), theirs)

    assert refused.value.code == CrmErrorCode.NOT_FOUND
    assert refused.value.message == "No such customer profile in this club."
