"""The crm admin: the profile page shows the timeline; activities are read-only."""

from django.urls import reverse

from crm.kernel.actor import Actor
from crm.models import Activity, AuditAction, AuditLog, Role
from crm.services.api_keys import api_key_create
from crm.services.audit import audit_record
from tests.factories import ActivityFactory


def test_admin_profile_page_shows_the_timeline(client_for, club_a, profile_a):
    ActivityFactory(profile=profile_a, summary="Won the monthly medal")
    client = client_for(club_a, Role.STAFF)
    page = client.get(reverse("admin:crm_customerprofile_change", args=[profile_a.pk]))
    assert b"Won the monthly medal" in page.content


def test_activity_admin_list_is_read_only(client_for, club_a, profile_a):
    activity = ActivityFactory(profile=profile_a)
    client = client_for(club_a, Role.OWNER)
    response = client.post(reverse("admin:crm_activity_change", args=[activity.pk]), {"summary": "rewritten"})
    assert response.status_code == 403
    assert Activity.objects.for_club(club_a).get().summary == activity.summary


def test_the_audit_log_names_the_api_key_a_write_came_through(client_for, club_a, profile_a):
    key, _ = api_key_create(club=club_a, actor=Actor.system(), name="Club app", scopes=["profiles:write"])
    audit_record(club=club_a, actor=Actor(api_key=key, ip_address="10.0.0.7"), action=AuditAction.TAG, target=profile_a)
    row = AuditLog.objects.for_club(club_a).get(action=AuditAction.TAG)
    client = client_for(club_a, Role.ADMIN)
    assert str(key).encode() in client.get(reverse("admin:crm_auditlog_changelist")).content
    assert str(key).encode() in client.get(reverse("admin:crm_auditlog_change", args=[row.pk])).content
