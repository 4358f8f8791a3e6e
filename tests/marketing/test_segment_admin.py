"""Segments in the back office go through the same services: validated, audited, refreshed on
demand, hand-picked by id or member number, and scoped to the staff member's club."""

import json

from django.urls import reverse

from crm.models import AuditLog, Role
from marketing.models import Segment, SegmentMember
from tests.factories import ProfileFactory, SegmentFactory

GOLD = {"field": "tier", "op": "eq", "value": "Gold"}
CHANGELIST = "admin:marketing_segment_changelist"


def test_a_segment_made_in_the_admin_is_validated_and_audited(client_for, club_a):
    client = client_for(club_a, Role.MARKETER)
    add = reverse("admin:marketing_segment_add")
    bad = client.post(add, {"name": "Broken", "kind": "dynamic", "rule": '{"field": "tier", "op": "gt"}'})
    assert bad.status_code == 200 and "&#x27;tier&#x27; takes one of" in bad.content.decode()
    assert not Segment.objects.for_club(club_a).exists()
    good = client.post(add, {"name": "Gold", "kind": "dynamic", "rule": json.dumps(GOLD)})
    assert good.status_code == 302
    assert Segment.objects.for_club(club_a).get().rule == GOLD
    assert AuditLog.objects.for_club(club_a).filter(action="segment.create").exists()


def test_refresh_now_action_brings_membership_up_to_date(client_for, club_a):
    ProfileFactory(club=club_a, membership_tier="Gold")
    segment = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    response = client_for(club_a, Role.ADMIN).post(
        reverse(CHANGELIST), {"action": "refresh_now", "_selected_action": [segment.pk]}, follow=True
    )
    assert "1 entered, 0 left, 1 members" in response.content.decode()
    assert SegmentMember.objects.for_club(club_a).filter(segment=segment).count() == 1


def test_hand_picked_lists_take_ids_or_member_numbers(client_for, club_a, club_b):
    ann = ProfileFactory(club=club_a, member_number="M-100")
    bob = ProfileFactory(club=club_a)
    theirs = ProfileFactory(club=club_b, member_number="M-200")
    segment = SegmentFactory(club=club_a, name="Committee", static=True)
    client = client_for(club_a, Role.MARKETER)
    change = reverse("admin:marketing_segment_change", args=[segment.pk])
    data = {"name": "Committee", "kind": "static", "rule": "null", "description": ""}
    client.post(change, {**data, "add_profiles": f"M-100 {bob.pk} {theirs.pk} M-200"})
    assert set(SegmentMember.objects.for_club(club_a).values_list("profile_id", flat=True)) == {ann.pk, bob.pk}
    client.post(change, {**data, "remove_profiles": "M-100"})
    assert list(SegmentMember.objects.for_club(club_a).values_list("profile_id", flat=True)) == [bob.pk]
    assert AuditLog.objects.for_club(club_a).filter(action="segment.members_remove").count() == 1


def test_another_clubs_staff_cannot_see_the_segment_in_the_admin(client_for, club_a, club_b):
    segment = SegmentFactory(club=club_a, name="Alpha only", rule=GOLD)
    client = client_for(club_b, Role.ADMIN)
    assert "Alpha only" not in client.get(reverse(CHANGELIST)).content.decode()
    assert client.get(reverse("admin:marketing_segment_change", args=[segment.pk])).status_code in (302, 404)
    client.post(reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [segment.pk], "post": "yes"})
    assert Segment.objects.for_club(club_a).filter(pk=segment.pk).exists()


def test_a_taken_name_is_a_form_error_not_a_crash(client_for, club_a):
    SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    response = client_for(club_a, Role.MARKETER).post(
        reverse("admin:marketing_segment_add"), {"name": "gold", "kind": "dynamic", "rule": json.dumps(GOLD)}
    )
    assert response.status_code == 200 and "There is already a segment called" in response.content.decode()
    assert Segment.objects.for_club(club_a).count() == 1


def test_a_segment_others_build_on_is_protected_from_deletion_in_the_admin(client_for, club_a):
    base = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    SegmentFactory(club=club_a, name="Gold regulars", rule={"all": [{"segment": base.pk}]})
    client = client_for(club_a, Role.ADMIN)
    page = client.post(reverse("admin:marketing_segment_delete", args=[base.pk]), {"post": "yes"})
    assert "Gold regulars (builds on Gold)" in page.content.decode()
    listing = client.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [base.pk], "post": "yes"}, follow=True
    )
    assert "deleted successfully" not in listing.content.decode()
    assert Segment.objects.for_club(club_a).filter(pk=base.pk).exists()
    assert not AuditLog.objects.for_club(club_a).filter(action="segment.delete").exists()


def test_sync_now_queues_a_sync_of_each_flagged_segment(client_for, club_a, messaging_simulator):
    from marketing.services.segments import segment_refresh

    ProfileFactory(club=club_a, membership_tier="Gold")
    flagged = SegmentFactory(club=club_a, name="Gold", rule=GOLD, sync_to_messaging=True)
    SegmentFactory(club=club_a, name="Unflagged", rule=GOLD)
    segment_refresh(club=club_a, segment=flagged)
    everything = list(Segment.objects.for_club(club_a).values_list("pk", flat=True))
    response = client_for(club_a, Role.MARKETER).post(
        reverse(CHANGELIST), {"action": "sync_now", "_selected_action": everything}, follow=True
    )
    assert "started for 1 segment(s)" in response.content.decode()
    flagged.refresh_from_db()
    assert flagged.sync_status == "synced" and flagged.messaging_list_id  # tests run tasks in-process
