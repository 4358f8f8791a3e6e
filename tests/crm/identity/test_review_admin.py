"""Staff review merge suggestions, merge by hand and unmerge in the admin, inside their own club."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.errors import CrmError
from crm.kernel.actor import Actor
from crm.models import (
    Activity,
    AuditLog,
    CustomerProfile,
    MergeRecord,
    MergeSuggestion,
    Note,
    ProfileIdentifier,
    Role,
    SuggestionStatus,
)
from crm.services.merges import profiles_merge
from crm.services.suggestions import suggestion_accept, suggestion_reject
from tests.factories import ActivityFactory, IdentifierFactory, MergeSuggestionFactory, NoteFactory, ProfileFactory

YEAR = datetime.timedelta(days=365)
EVIDENCE = {
    "name": {"result": "similar", "first": 0.93, "last": 1.0},
    "date_of_birth": {"result": "same", "weight": 0.35},
    "email": {"result": "different", "weight": 0},
}


def identify(profile, kind, value, source="scl"):
    return IdentifierFactory(profile=profile, kind=kind, value=value, source=source)


def suggest(first, second, score=0.82, evidence=None):
    return MergeSuggestionFactory(profile_a=first, profile_b=second, score=score, evidence=evidence or EVIDENCE)


def identifiers_of(profile):
    return set(ProfileIdentifier.objects.for_club(profile.club).filter(profile=profile).values_list("kind", "value"))


def snapshot(club):
    """Everything a decision may write, to assert that a refused one wrote nothing."""
    return {
        "suggestions": set(MergeSuggestion.objects.for_club(club).values_list("pk", "status", "decided_by")),
        "records": set(MergeRecord.objects.for_club(club).values_list("pk", "undone_at")),
        "merged_into": set(CustomerProfile.objects.for_club(club).values_list("pk", "merged_into")),
        "identifiers": set(ProfileIdentifier.objects.for_club(club).values_list("pk", "profile")),
        "audit": AuditLog.objects.for_club(club).count(),
    }


@pytest.fixture
def pair(club_a):
    """A member (SCL-backed, so the survivor) and a TeeTime player who look like the same man."""
    member = ProfileFactory(
        club=club_a,
        first_name="Jon",
        last_name="Smith",
        primary_email="jon@member.test",
        date_of_birth=datetime.date(1970, 3, 4),
        postcode="7700",
        member_number="M-100",
    )
    player = ProfileFactory(
        club=club_a,
        first_name="John",
        last_name="Smith",
        primary_email="jsmith@player.test",
        date_of_birth=datetime.date(1970, 3, 4),
        membership_status="",
        membership_tier="",
    )
    identify(member, "scl_member_id", "M-100")
    identify(member, "email", "jon@member.test")
    identify(player, "teetime_player_id", "P-7", "teetime")
    identify(player, "email", "jsmith@player.test", "teetime")
    identify(player, "email", "john.smith@work.test", "teetime")
    ActivityFactory(profile=player, summary="Played 18 holes at dawn")
    NoteFactory(profile=player, body="Left-handed")
    return member, player


@pytest.fixture
def suggestion(pair):
    return suggest(*pair)


@pytest.fixture
def record(club_a, pair):
    member, player = pair
    return profiles_merge(club=club_a, actor=Actor.system(), first_id=member.pk, second_id=player.pk, reason="staff")


def review_url(suggestion, view="change"):
    return reverse(f"admin:crm_mergesuggestion_{view}", args=[suggestion.pk])


def record_url(record, view="change"):
    return reverse(f"admin:crm_mergerecord_{view}", args=[record.pk])


# --- Suggestions ----------------------------------------------------------------------------


def test_accepting_a_suggestion_merges_the_pair_into_the_member(client_for, club_a, pair, suggestion):
    member, player = pair
    client = client_for(club_a, Role.STAFF)

    response = client.post(review_url(suggestion, "accept"), follow=True)

    assert f"Merged #{player.pk} into" in response.content.decode()
    player.refresh_from_db()
    assert player.merged_into_id == member.pk
    assert identifiers_of(member) == {
        ("scl_member_id", "M-100"),
        ("email", "jon@member.test"),
        ("teetime_player_id", "P-7"),
        ("email", "jsmith@player.test"),
        ("email", "john.smith@work.test"),
    }
    assert not identifiers_of(player)
    assert Activity.objects.for_club(club_a).get(summary="Played 18 holes at dawn").profile_id == member.pk
    assert Note.objects.for_club(club_a).get(body="Left-handed").profile_id == member.pk
    merge = MergeRecord.objects.for_club(club_a).get()
    assert (merge.survivor_id, merge.merged_id, merge.reason) == (member.pk, player.pk, "suggestion")
    assert (merge.score, merge.evidence, merge.merged_by) == (0.82, EVIDENCE, client.user)
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.decided_by) == (SuggestionStatus.ACCEPTED, client.user)
    assert suggestion.decided_at is not None
    assert AuditLog.objects.for_club(club_a).filter(action="profile.merge", actor=client.user).count() == 1


def test_rejecting_a_suggestion_is_final_even_when_the_pair_is_scored_again(client_for, club_a, pair, suggestion):
    client = client_for(club_a, Role.STAFF)

    response = client.post(review_url(suggestion, "reject"), follow=True)

    assert "will not be suggested again" in response.content.decode()
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.decided_by) == (SuggestionStatus.REJECTED, client.user)
    assert suggestion.decided_at is not None
    audit = AuditLog.objects.for_club(club_a).get(action="suggestion.reject")
    assert (audit.actor, audit.object_id) == (client.user, str(suggestion.pk))
    assert all(profile.merged_into_id is None for profile in CustomerProfile.objects.for_club(club_a))

    # Resolution scores the same pair again later and records its suggestions the way it always does.
    MergeSuggestion.objects.bulk_create(
        [
            MergeSuggestion(
                club=club_a,
                profile_a_id=suggestion.profile_a_id,
                profile_b_id=suggestion.profile_b_id,
                score=0.9,
                evidence={},
            )
        ],
        ignore_conflicts=True,
    )
    again = MergeSuggestion.objects.for_club(club_a).get()
    assert (again.pk, again.status, again.score) == (suggestion.pk, SuggestionStatus.REJECTED, 0.82)


def test_review_page_shows_both_profiles_side_by_side_with_the_evidence(client_for, club_a, pair, suggestion):
    member, player = pair
    ActivityFactory(profile=player)

    response = client_for(club_a, Role.VIEWER).get(review_url(suggestion))

    assert response.status_code == 200
    text = response.content.decode()
    for value in (
        "jon@member.test",
        "jsmith@player.test",
        "john.smith@work.test",  # an email only the identifiers know
        "Jon Smith",
        "John Smith",
        "1970-03-04",
        "M-100",
        "scl_member_id: M-100",
        "teetime_player_id: P-7",
    ):
        assert value in text
    assert "similar (first name 0.93, last name 1.00)" in text
    assert "same (+0.35)" in text
    rows = response.context["rows"]
    activities = next(row for row in rows if row["label"] == "Activities")
    assert (activities["first"], activities["second"]) == (["0"], ["2"])
    # A viewer reviews but cannot decide: no buttons.
    assert review_url(suggestion, "accept") not in text


def test_review_page_offers_the_decision_to_staff(client_for, club_a, suggestion):
    text = client_for(club_a, Role.STAFF).get(review_url(suggestion)).content.decode()
    assert review_url(suggestion, "accept") in text and review_url(suggestion, "reject") in text
    assert "csrfmiddlewaretoken" in text


def test_queue_lists_pending_suggestions_by_default(client_for, club_a, pair):
    member, player = pair
    pending = suggest(member, player)
    decided = suggest(ProfileFactory(club=club_a, last_name="Decided"), ProfileFactory(club=club_a, last_name="Pair"))
    decided.status = SuggestionStatus.REJECTED
    decided.save()
    client = client_for(club_a, Role.VIEWER)
    changelist = reverse("admin:crm_mergesuggestion_changelist")

    queue = client.get(changelist)
    assert queue.status_code == 200
    assert list(queue.context["cl"].result_list) == [pending]
    assert "Jon Smith" in queue.content.decode() and "date of birth same" in queue.content.decode()
    assert list(client.get(changelist, {"status": "rejected"}).context["cl"].result_list) == [decided]
    assert len(client.get(changelist, {"status": "all"}).context["cl"].result_list) == 2


def test_bulk_accept_and_reject(client_for, club_a, pair):
    member, player = pair
    to_accept = suggest(member, player)
    to_reject = suggest(ProfileFactory(club=club_a), ProfileFactory(club=club_a))
    client = client_for(club_a, Role.MARKETER)
    changelist = reverse("admin:crm_mergesuggestion_changelist")

    accepted = client.post(
        changelist, {"action": "accept_selected", "_selected_action": [to_accept.pk]}, follow=True
    ).content.decode()
    rejected = client.post(
        changelist, {"action": "reject_selected", "_selected_action": [to_reject.pk]}, follow=True
    ).content.decode()

    assert "Accepted 1 merge suggestion(s)" in accepted
    assert "Rejected 1 merge suggestion(s)" in rejected
    to_accept.refresh_from_db()
    to_reject.refresh_from_db()
    assert (to_accept.status, to_reject.status) == (SuggestionStatus.ACCEPTED, SuggestionStatus.REJECTED)
    player.refresh_from_db()
    assert player.merged_into_id == member.pk


def test_deciding_twice_reports_the_first_decision(client_for, club_a, suggestion):
    client = client_for(club_a, Role.STAFF)
    client.post(review_url(suggestion, "reject"))
    before = snapshot(club_a)

    response = client.post(review_url(suggestion, "accept"), follow=True)

    assert "already decided: rejected" in response.content.decode()
    assert snapshot(club_a) == before


def test_accept_refused_by_the_merge_reports_why_and_changes_nothing(client_for, club_a):
    first, second = ProfileFactory(club=club_a), ProfileFactory(club=club_a)
    identify(first, "scl_member_id", "M-1")
    identify(second, "scl_member_id", "M-2")
    suggestion = suggest(first, second)
    before = snapshot(club_a)

    response = client_for(club_a, Role.STAFF).post(review_url(suggestion, "accept"), follow=True)

    assert "hold different scl_member_id values" in response.content.decode()
    assert snapshot(club_a) == before


def test_accepting_after_one_profile_moved_on_merges_the_live_profiles(club_a, pair, suggestion):
    member, player = pair
    older = ProfileFactory(club=club_a)
    CustomerProfile.objects.for_club(club_a).filter(pk=older.pk).update(created_at=timezone.now() - YEAR)
    # After the suggestion was made, an event showed the player is that older profile.
    profiles_merge(club=club_a, actor=Actor.system(), first_id=player.pk, second_id=older.pk, reason="event")
    player.refresh_from_db()
    live = player.merged_into_id
    assert live == older.pk

    record = suggestion_accept(club=club_a, suggestion_id=suggestion.pk, actor=Actor.system())

    assert {record.survivor_id, record.merged_id} == {member.pk, live}
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.ACCEPTED
    assert "teetime_player_id" in dict(identifiers_of(member))


def test_a_pair_that_already_became_one_is_closed_on_accept_and_cannot_be_rejected(club_a, pair):
    member, player = pair
    third = ProfileFactory(club=club_a)
    suggestion = suggest(player, third)
    profiles_merge(club=club_a, actor=Actor.system(), first_id=member.pk, second_id=player.pk, reason="event")
    profiles_merge(club=club_a, actor=Actor.system(), first_id=member.pk, second_id=third.pk, reason="event")

    with pytest.raises(CrmError, match="already one profile"):
        suggestion_reject(club=club_a, suggestion_id=suggestion.pk, actor=Actor.system())
    assert suggestion_accept(club=club_a, suggestion_id=suggestion.pk, actor=Actor.system()) is None
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.ACCEPTED


def test_a_suggestion_of_another_club_is_not_found_by_the_services(club_a, club_b, suggestion):
    for service in (suggestion_accept, suggestion_reject):
        with pytest.raises(CrmError, match="not found"):
            service(club=club_b, suggestion_id=suggestion.pk, actor=Actor.system())
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PENDING


# --- Merge records and unmerge ----------------------------------------------------------------


def test_unmerge_from_the_admin_restores_both_profiles(client_for, club_a, pair, record):
    member, player = pair
    client = client_for(club_a, Role.STAFF)

    response = client.post(record_url(record, "unmerge"), follow=True)

    assert "are two profiles again" in response.content.decode()
    player.refresh_from_db()
    assert player.merged_into_id is None
    assert identifiers_of(player) == {
        ("teetime_player_id", "P-7"),
        ("email", "jsmith@player.test"),
        ("email", "john.smith@work.test"),
    }
    assert identifiers_of(member) == {("scl_member_id", "M-100"), ("email", "jon@member.test")}
    assert Note.objects.for_club(club_a).get(body="Left-handed").profile_id == player.pk
    record.refresh_from_db()
    assert (record.undone_by, record.undone_at is not None) == (client.user, True)
    assert AuditLog.objects.for_club(club_a).filter(action="profile.unmerge", actor=client.user).count() == 1

    again = client.post(
        reverse("admin:crm_mergerecord_changelist"),
        {"action": "unmerge_selected", "_selected_action": [record.pk]},
        follow=True,
    )
    assert "This merge was already undone." in again.content.decode()


def test_merge_record_page_shows_the_snapshot_and_what_moved(client_for, club_a, pair, record):
    member, player = pair
    response = client_for(club_a, Role.VIEWER).get(record_url(record))

    assert response.status_code == 200
    text = response.content.decode()
    assert "jsmith@player.test" in text and "jon@member.test" in text  # both emails as they were
    moved = dict(response.context["moved"])
    assert (moved["profile identifiers"], moved["activities"], moved["notes"]) == (3, 1, 1)
    assert record_url(record, "unmerge") not in text  # a viewer sees no unmerge button
    listing = client_for(club_a, Role.VIEWER).get(reverse("admin:crm_mergerecord_changelist"))
    assert list(listing.context["cl"].result_list) == [record]


# --- Merging by hand from the profile list ------------------------------------------------------


def merge_action(client, profiles):
    return client.post(
        reverse("admin:crm_customerprofile_changelist"),
        {"action": "merge_selected", "_selected_action": [profile.pk for profile in profiles]},
        follow=True,
    )


def test_merge_action_merges_two_selected_profiles(client_for, club_a, pair):
    member, player = pair
    client = client_for(club_a, Role.STAFF)

    response = merge_action(client, [player, member])

    assert f"Merged #{player.pk} into" in response.content.decode()
    player.refresh_from_db()
    assert player.merged_into_id == member.pk
    merge = MergeRecord.objects.for_club(club_a).get()
    assert (merge.reason, merge.merged_by) == ("staff", client.user)


def test_merge_action_needs_exactly_two_profiles(client_for, club_a, pair):
    third = ProfileFactory(club=club_a)
    client = client_for(club_a, Role.STAFF)
    before = snapshot(club_a)

    response = merge_action(client, [*pair, third])

    assert "Select exactly two profiles to merge." in response.content.decode()
    assert "Select exactly two profiles to merge." in merge_action(client, pair[:1]).content.decode()
    assert snapshot(club_a) == before


def test_merge_action_reports_a_refused_merge(client_for, club_a):
    first, second = ProfileFactory(club=club_a), ProfileFactory(club=club_a)
    identify(first, "scl_member_id", "M-1")
    identify(second, "scl_member_id", "M-2")
    before = snapshot(club_a)

    response = merge_action(client_for(club_a, Role.STAFF), [first, second])

    assert "they are two people" in response.content.decode()
    assert snapshot(club_a) == before


# --- Roles and clubs ----------------------------------------------------------------------------


def test_a_viewer_can_neither_decide_nor_merge_nor_unmerge(client_for, club_a, pair, suggestion):
    other = suggest(ProfileFactory(club=club_a), ProfileFactory(club=club_a))
    merged_pair = ProfileFactory(club=club_a), ProfileFactory(club=club_a)
    first, second = (profile.pk for profile in merged_pair)
    record = profiles_merge(club=club_a, actor=Actor.system(), first_id=first, second_id=second, reason="staff")
    client = client_for(club_a, Role.VIEWER)
    before = snapshot(club_a)

    assert client.post(review_url(suggestion, "accept")).status_code == 403
    assert client.post(review_url(other, "reject")).status_code == 403
    assert client.post(record_url(record, "unmerge")).status_code == 403
    changelist = reverse("admin:crm_mergesuggestion_changelist")
    for action in ("accept_selected", "reject_selected"):
        client.post(changelist, {"action": action, "_selected_action": [suggestion.pk, other.pk]})
    client.post(
        reverse("admin:crm_mergerecord_changelist"), {"action": "unmerge_selected", "_selected_action": [record.pk]}
    )
    merge_action(client, pair)

    assert snapshot(club_a) == before


def test_another_club_neither_sees_nor_decides_the_suggestion(client_for, club_a, club_b, suggestion):
    client = client_for(club_b, Role.ADMIN)
    before = snapshot(club_a)

    page = client.get(review_url(suggestion))
    assert page.status_code in (302, 404) and b"Smith" not in page.content
    listing = client.get(reverse("admin:crm_mergesuggestion_changelist"), {"status": "all"})
    assert b"Smith" not in listing.content
    for view in ("accept", "reject"):
        response = client.post(review_url(suggestion, view))
        assert response.status_code in (302, 404)
    changelist = reverse("admin:crm_mergesuggestion_changelist")
    for action in ("accept_selected", "reject_selected"):
        client.post(changelist, {"action": action, "_selected_action": [suggestion.pk]})
    merge_action(client, CustomerProfile.objects.for_club(club_a))

    assert snapshot(club_a) == before


def test_another_club_neither_sees_nor_undoes_the_merge(client_for, club_a, club_b, record):
    client = client_for(club_b, Role.ADMIN)
    before = snapshot(club_a)

    page = client.get(record_url(record))
    assert page.status_code in (302, 404) and b"Smith" not in page.content
    assert b"Smith" not in client.get(reverse("admin:crm_mergerecord_changelist")).content
    assert client.post(record_url(record, "unmerge")).status_code in (302, 404)
    client.post(
        reverse("admin:crm_mergerecord_changelist"), {"action": "unmerge_selected", "_selected_action": [record.pk]}
    )

    assert snapshot(club_a) == before
