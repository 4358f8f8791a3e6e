"""Segments follow what staff change by hand at once, not at the next sweep: tagging and untagging
(service, bulk admin action, the profile's tag rows) and editing a profile's fields announce the
profiles they changed after commit, and the eager refresh task moves them in or out."""

from django.urls import reverse

from crm.kernel.actor import Actor
from crm.models import AuditAction, AuditLog, Role
from crm.services.tags import profiles_tag, profiles_untag, tag_get_or_create
from crm.signals import profiles_changed
from marketing.models import Segment, SegmentChange, SegmentMember
from marketing.services.segments import segment_refresh
from tests.crm.test_roles import profile_form_data
from tests.factories import ProfileFactory, SegmentFactory, TagFactory

WINTER_LEAGUE = {"tag": "Winter league"}
IN_DURBAN = {"field": "city", "op": "eq", "value": "Durban"}


def members(segment) -> set[int]:
    rows = SegmentMember.objects.for_club(segment.club).filter(segment=segment)
    return set(rows.values_list("profile_id", flat=True))


def segment_on(club, name, rule) -> Segment:
    segment = SegmentFactory(club=club, name=name, rule=rule)
    segment_refresh(club=club, segment=segment)
    return segment


def test_tagging_puts_people_in_a_segment_on_the_tag_and_untagging_takes_them_out(
    club_a, django_capture_on_commit_callbacks
):
    ann, bob = ProfileFactory.create_batch(2, club=club_a)
    league = segment_on(club_a, "Winter league players", WINTER_LEAGUE)
    tag = tag_get_or_create(club=club_a, actor=Actor.system(), name="Winter league")

    with django_capture_on_commit_callbacks(execute=True):
        profiles_tag(club=club_a, actor=Actor.system(), profile_ids=[ann.pk, bob.pk], tag=tag)
    assert members(league) == {ann.pk, bob.pk}

    with django_capture_on_commit_callbacks(execute=True):
        profiles_untag(club=club_a, actor=Actor.system(), profile_ids=[bob.pk], tag=tag)
    assert members(league) == {ann.pk}
    changes = SegmentChange.objects.for_club(club_a).filter(segment=league, profile=bob).order_by("pk")
    assert list(changes.values_list("change", flat=True)) == ["entered", "exited"]


def test_tagging_announces_only_the_people_it_changed(club_a, django_capture_on_commit_callbacks):
    ann, bob = ProfileFactory.create_batch(2, club=club_a)
    tag = tag_get_or_create(club=club_a, actor=Actor.system(), name="Winter league")
    profiles_tag(club=club_a, actor=Actor.system(), profile_ids=[ann.pk], tag=tag)

    announced = []

    def record(sender, club, profile_ids, **kwargs):
        announced.append(profile_ids)

    profiles_changed.connect(record)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            profiles_tag(club=club_a, actor=Actor.system(), profile_ids=[ann.pk, bob.pk], tag=tag)
        with django_capture_on_commit_callbacks(execute=True):
            profiles_tag(club=club_a, actor=Actor.system(), profile_ids=[ann.pk, bob.pk], tag=tag)
    finally:
        profiles_changed.disconnect(record)

    assert announced == [[bob.pk]]  # Ann already had the tag; the second call changed nobody


def test_the_bulk_admin_tag_action_moves_people_into_the_segment_at_once(
    client_for, club_a, django_capture_on_commit_callbacks
):
    ann = ProfileFactory(club=club_a)
    league = segment_on(club_a, "Winter league players", WINTER_LEAGUE)
    client = client_for(club_a, Role.STAFF)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:crm_customerprofile_changelist"),
            {"action": "tag_selected", "_selected_action": [ann.pk], "apply": "1", "tag_name": "Winter league"},
        )

    assert response.status_code == 302
    assert members(league) == {ann.pk}


def test_a_staff_edit_of_a_field_moves_the_person_into_a_segment_on_it_at_once(
    client_for, club_a, profile_a, django_capture_on_commit_callbacks
):
    in_durban = segment_on(club_a, "Durban", IN_DURBAN)
    assert members(in_durban) == set()
    url = reverse("admin:crm_customerprofile_change", args=[profile_a.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(club_a, Role.STAFF).post(url, profile_form_data(profile_a, city="Durban"))

    assert response.status_code == 302, response.content[:2000]
    assert members(in_durban) == {profile_a.pk}


def test_a_tag_row_added_on_the_profile_page_is_audited_and_moves_the_person_at_once(
    client_for, club_a, profile_a, django_capture_on_commit_callbacks
):
    league = segment_on(club_a, "Winter league players", WINTER_LEAGUE)
    tag = TagFactory(club=club_a, name="Winter league")
    url = reverse("admin:crm_customerprofile_change", args=[profile_a.pk])
    data = profile_form_data(profile_a, **{"profile_tags-TOTAL_FORMS": "1", "profile_tags-0-tag": str(tag.pk)})

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(club_a, Role.STAFF).post(url, data)

    assert response.status_code == 302, response.content[:2000]
    assert members(league) == {profile_a.pk}
    assert AuditLog.objects.for_club(club_a).filter(action=AuditAction.TAG).count() == 1
