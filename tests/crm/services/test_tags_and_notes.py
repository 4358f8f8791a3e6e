import pytest

from crm.errors import CrmError, CrmErrorCode
from crm.kernel.actor import Actor
from crm.models import AuditAction, AuditLog, ProfileTag
from crm.services.notes import note_add, note_edit
from crm.services.tags import profiles_tag, profiles_untag, tag_get_or_create
from tests.factories import ProfileFactory, UserFactory


def test_bulk_tag_adds_once_and_reports_rows_added(club_a):
    actor = UserFactory()
    profiles = ProfileFactory.create_batch(4, club=club_a)
    tag = tag_get_or_create(club=club_a, actor=Actor.system(), name="  Summer   League ")
    assert tag.name == "Summer League"
    staff = Actor.for_user(actor)
    assert profiles_tag(club=club_a, actor=staff, profile_ids=[p.pk for p in profiles[:2]], tag=tag) == 2
    assert profiles_tag(club=club_a, actor=staff, profile_ids=[p.pk for p in profiles], tag=tag) == 2
    assert ProfileTag.objects.for_club(club_a).filter(tag=tag).count() == 4
    assert tag_get_or_create(club=club_a, actor=Actor.system(), name="summer league") == tag
    assert AuditLog.objects.for_club(club_a).filter(action=AuditAction.TAG).count() == 2


def test_bulk_untag(club_a):
    actor = UserFactory()
    profiles = ProfileFactory.create_batch(3, club=club_a)
    tag = tag_get_or_create(club=club_a, actor=Actor.system(), name="vip")
    profiles_tag(club=club_a, profile_ids=[p.pk for p in profiles], tag=tag, actor=Actor.for_user(actor))
    assert profiles_untag(club=club_a, profile_ids=[profiles[0].pk], tag=tag, actor=Actor.for_user(actor)) == 1
    assert set(profiles[1].tags.values_list("name", flat=True)) == {"vip"}
    assert not profiles[0].tags.exists()


def test_tagging_with_another_clubs_tag_or_profiles_does_nothing(club_a, club_b):
    actor = Actor.for_user(UserFactory())
    foreign_tag = tag_get_or_create(club=club_b, actor=Actor.system(), name="bravo")
    with pytest.raises(CrmError):
        profiles_tag(club=club_a, actor=actor, profile_ids=[ProfileFactory(club=club_a).pk], tag=foreign_tag)
    own_tag = tag_get_or_create(club=club_a, actor=Actor.system(), name="alpha")
    assert profiles_tag(club=club_a, actor=actor, profile_ids=[ProfileFactory(club=club_b).pk], tag=own_tag) == 0
    assert not ProfileTag.objects.unscoped_across_clubs().exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 61])
def test_bad_tag_names_are_refused(club_a, name):
    with pytest.raises(CrmError) as error:
        tag_get_or_create(club=club_a, actor=Actor.system(), name=name)
    assert error.value.code == CrmErrorCode.INVALID_TAG


def test_note_edit_marks_it_edited_and_audits(club_a, profile_a):
    author = UserFactory()
    note = note_add(club=club_a, profile=profile_a, actor=Actor.for_user(author), body=" Likes 7am tee times ")
    assert note.body == "Likes 7am tee times" and not note.is_edited
    note_edit(club=club_a, note=note, actor=Actor.for_user(author), body="Likes 6am tee times", is_pinned=True)
    note.refresh_from_db()
    assert note.is_edited and note.is_pinned
    actions = list(AuditLog.objects.for_club(club_a).values_list("action", flat=True).order_by("id"))
    assert actions == [AuditAction.NOTE_ADD, AuditAction.NOTE_EDIT]


def test_empty_note_is_refused(club_a, profile_a):
    with pytest.raises(CrmError) as error:
        note_add(club=club_a, profile=profile_a, actor=Actor.system(), body="   ")
    assert error.value.code == CrmErrorCode.EMPTY_NOTE
    assert not profile_a.notes.exists()


def test_note_on_another_clubs_profile_is_not_found(club_a, club_b, profile_a):
    with pytest.raises(CrmError) as error:
        note_add(club=club_b, profile=profile_a, actor=Actor.system(), body="sneaky")
    assert error.value.code == CrmErrorCode.NOT_FOUND
    assert not profile_a.notes.exists()


def test_a_tag_made_on_the_fly_is_audited_as_created_by_whoever_named_it(club_a):
    staff = Actor.for_user(UserFactory())
    tag = tag_get_or_create(club=club_a, actor=staff, name="Twilight league")
    assert tag_get_or_create(club=club_a, actor=staff, name="twilight LEAGUE") == tag
    (created,) = AuditLog.objects.for_club(club_a).filter(action=AuditAction.TAG_CREATE)
    assert (created.actor, created.object_id) == (staff.user, str(tag.pk))
