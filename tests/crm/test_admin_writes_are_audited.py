"""Every write the back office makes goes through its service: audited with who did it and from
where, and refused for another club's objects."""

from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.db import connection
from django.urls import reverse

from crm.errors import CrmError, CrmErrorCode
from crm.events.replay import signing_secret_create, signing_secret_revoke
from crm.kernel.actor import Actor
from crm.models import ApiKey, AuditAction, AuditLog, ClubMembership, EventSigningSecret, ProfileTag, Role, Tag
from crm.services.api_keys import api_key_create, api_key_revoke, api_key_update
from crm.services.tags import tag_delete, tag_update
from tests.conftest import staff_in
from tests.factories import ProfileFactory, ProfileTagFactory, TagFactory


def _only_audit_row(club, action) -> AuditLog:
    (row,) = AuditLog.objects.for_club(club).filter(action=action)
    return row


def _by_the_client(row: AuditLog, client) -> bool:
    return row.actor == client.user and row.ip_address == "127.0.0.1"


# --- Tags ---------------------------------------------------------------------------------


def test_adding_a_tag_in_the_admin_is_audited_with_who_and_from_where(client_for, club_a):
    client = client_for(club_a, Role.STAFF)
    response = client.post(reverse("admin:crm_tag_add"), {"name": "  Winter   league ", "color": "#123456"})
    assert response.status_code == 302
    tag = Tag.objects.for_club(club_a).get()
    assert (tag.name, tag.color) == ("Winter league", "#123456")
    assert _by_the_client(_only_audit_row(club_a, AuditAction.TAG_CREATE), client)


def test_a_new_tag_from_the_bulk_add_a_tag_action_is_audited_with_who_and_from_where(client_for, club_a):
    profile = ProfileFactory(club=club_a)
    client = client_for(club_a, Role.STAFF)
    client.post(
        reverse("admin:crm_customerprofile_changelist"),
        {"action": "tag_selected", "_selected_action": [profile.pk], "apply": "1", "tag_name": "Winter league"},
    )
    row = _only_audit_row(club_a, AuditAction.TAG_CREATE)
    assert row.object_id == str(Tag.objects.for_club(club_a).get(name="Winter league").pk)
    assert _by_the_client(row, client)


def test_removing_a_tag_that_does_not_exist_creates_none(client_for, club_a):
    profile = ProfileFactory(club=club_a)
    client = client_for(club_a, Role.STAFF)
    response = client.post(
        reverse("admin:crm_customerprofile_changelist"),
        {"action": "untag_selected", "_selected_action": [profile.pk], "apply": "1", "tag_name": "Winter league"},
        follow=True,
    )
    assert "There is no tag called 'Winter league'." in [str(message) for message in response.context["messages"]]
    assert not Tag.objects.for_club(club_a).exists()
    assert not AuditLog.objects.for_club(club_a).exists()


def test_removing_a_tag_named_in_another_case_takes_it_off(client_for, club_a):
    tagged = ProfileTagFactory(tag=TagFactory(club=club_a, name="Winter league"), profile=ProfileFactory(club=club_a))
    client_for(club_a, Role.STAFF).post(
        reverse("admin:crm_customerprofile_changelist"),
        {
            "action": "untag_selected",
            "_selected_action": [tagged.profile_id],
            "apply": "1",
            "tag_name": "winter  LEAGUE",
        },
    )
    assert not ProfileTag.objects.for_club(club_a).exists()
    assert Tag.objects.for_club(club_a).count() == 1
    assert _only_audit_row(club_a, AuditAction.UNTAG)


def test_a_tag_named_like_another_in_any_case_is_refused_on_the_form(client_for, club_a):
    TagFactory(club=club_a, name="vip")
    client = client_for(club_a, Role.STAFF)
    response = client.post(reverse("admin:crm_tag_add"), {"name": "VIP", "color": "#123456"})
    assert response.status_code == 200
    assert b"There is already a tag called" in response.content
    assert Tag.objects.for_club(club_a).count() == 1
    assert not AuditLog.objects.for_club(club_a).filter(action=AuditAction.TAG_CREATE).exists()


def test_renaming_a_tag_announces_its_profiles_and_records_the_change(
    client_for, club_a, announced, django_capture_on_commit_callbacks
):
    tag = TagFactory(club=club_a, name="vip", color="#2f6f4f")
    tagged = ProfileTagFactory(tag=tag, profile=ProfileFactory(club=club_a)).profile
    client = client_for(club_a, Role.STAFF)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:crm_tag_change", args=[tag.pk]), {"name": "Platinum", "color": "#2f6f4f"})
    assert Tag.objects.for_club(club_a).get().name == "Platinum"
    assert announced == [[tagged.pk]]
    row = _only_audit_row(club_a, AuditAction.TAG_UPDATE)
    assert row.details == {"name": ["vip", "Platinum"]} and _by_the_client(row, client)


def test_recolouring_a_tag_announces_nobody(client_for, club_a, announced, django_capture_on_commit_callbacks):
    tag = TagFactory(club=club_a, name="vip", color="#2f6f4f")
    ProfileTagFactory(tag=tag, profile=ProfileFactory(club=club_a))
    client = client_for(club_a, Role.STAFF)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:crm_tag_change", args=[tag.pk]), {"name": "vip", "color": "#ff0000"})
    assert announced == []
    assert _only_audit_row(club_a, AuditAction.TAG_UPDATE).details == {"color": ["#2f6f4f", "#ff0000"]}


def test_deleting_tags_takes_them_off_their_profiles_announced_and_audited(
    client_for, club_a, announced, django_capture_on_commit_callbacks
):
    tag = TagFactory(club=club_a, name="vip")
    tagged = ProfileTagFactory(tag=tag, profile=ProfileFactory(club=club_a)).profile
    client = client_for(club_a, Role.STAFF)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:crm_tag_changelist"),
            {"action": "delete_selected", "_selected_action": [tag.pk], "post": "yes"},
        )
    assert response.status_code == 302
    assert not Tag.objects.for_club(club_a).exists() and not ProfileTag.objects.for_club(club_a).exists()
    assert announced == [[tagged.pk]]
    row = _only_audit_row(club_a, AuditAction.TAG_DELETE)
    assert row.details == {"profile_ids": [tagged.pk]} and _by_the_client(row, client)


def test_another_clubs_tag_is_neither_renamed_nor_deleted(client_for, club_a, club_b):
    tag = TagFactory(club=club_a, name="vip")
    client = client_for(club_b, Role.ADMIN)
    client.post(reverse("admin:crm_tag_change", args=[tag.pk]), {"name": "hijacked", "color": "#000000"})
    client.post(reverse("admin:crm_tag_delete", args=[tag.pk]), {"post": "yes"})
    assert Tag.objects.for_club(club_a).get().name == "vip"
    for service, options in ((tag_update, {"name": "hijacked", "color": ""}), (tag_delete, {})):
        with pytest.raises(CrmError) as refusal:
            service(club=club_b, actor=Actor.system(), tag=tag, **options)
        assert refusal.value.code == CrmErrorCode.NOT_FOUND
    edits = [AuditAction.TAG_UPDATE, AuditAction.TAG_DELETE]
    written = AuditLog.objects.unscoped_across_clubs().filter(action__in=edits)
    assert not written.exists()


# --- Signing secrets ----------------------------------------------------------------------


@pytest.fixture
def secret_a(club_a) -> EventSigningSecret:
    secret, _ = signing_secret_create(club=club_a, actor=Actor.system(), source="teetime", label="prod")
    return secret


def test_unticking_active_revokes_the_secret_with_an_audit_row(client_for, club_a, secret_a):
    client = client_for(club_a, Role.ADMIN)
    response = client.post(reverse("admin:crm_eventsigningsecret_change", args=[secret_a.pk]), {})
    assert response.status_code == 302
    secret_a.refresh_from_db()
    assert secret_a.is_active is False
    assert _by_the_client(_only_audit_row(club_a, AuditAction.SECRET_REVOKE), client)


def test_the_revoke_action_revokes_each_active_secret_once(client_for, club_a, secret_a):
    client = client_for(club_a, Role.ADMIN)
    for _ in range(2):
        client.post(
            reverse("admin:crm_eventsigningsecret_changelist"),
            {"action": "revoke_selected", "_selected_action": [secret_a.pk]},
        )
    secret_a.refresh_from_db()
    assert secret_a.is_active is False
    assert _by_the_client(_only_audit_row(club_a, AuditAction.SECRET_REVOKE), client)


def test_a_revoked_secret_is_not_made_active_again(client_for, club_a, secret_a):
    signing_secret_revoke(club=club_a, actor=Actor.system(), secret=secret_a)
    client = client_for(club_a, Role.ADMIN)
    client.post(reverse("admin:crm_eventsigningsecret_change", args=[secret_a.pk]), {"is_active": "on"})
    secret_a.refresh_from_db()
    assert secret_a.is_active is False


def test_another_clubs_secret_is_not_revoked(client_for, club_b, club_a, secret_a):
    client_for(club_b, Role.ADMIN).post(reverse("admin:crm_eventsigningsecret_change", args=[secret_a.pk]), {})
    with pytest.raises(CrmError) as refusal:
        signing_secret_revoke(club=club_b, actor=Actor.system(), secret=secret_a)
    assert refusal.value.code == CrmErrorCode.NOT_FOUND
    secret_a.refresh_from_db()
    assert secret_a.is_active is True
    assert not AuditLog.objects.unscoped_across_clubs().filter(action=AuditAction.SECRET_REVOKE).exists()


# --- API keys -----------------------------------------------------------------------------


@pytest.fixture
def key_a(club_a) -> ApiKey:
    key, _ = api_key_create(club=club_a, actor=Actor.system(), name="Club app", scopes=["profiles:read"])
    return key


def _key_form(name: str, *scopes: str) -> dict:
    return {"name": name, "scopes": list(scopes), "expires_at_0": "", "expires_at_1": ""}


def test_editing_an_api_key_records_each_change_with_who_and_from_where(client_for, club_a, key_a):
    client = client_for(club_a, Role.ADMIN)
    form = _key_form("Club app (prod)", "profiles:read", "events:ingest")
    response = client.post(reverse("admin:crm_apikey_change", args=[key_a.pk]), form)
    assert response.status_code == 302
    key_a.refresh_from_db()
    assert (key_a.name, key_a.scopes) == ("Club app (prod)", ["events:ingest", "profiles:read"])
    row = _only_audit_row(club_a, AuditAction.API_KEY_UPDATE)
    assert row.details == {
        "name": ["Club app", "Club app (prod)"],
        "scopes": [["profiles:read"], ["events:ingest", "profiles:read"]],
    }
    assert _by_the_client(row, client)


def test_a_new_key_is_named_as_an_edit_would_name_it(club_a):
    key, _ = api_key_create(club=club_a, actor=Actor.system(), name="  Club   app ", scopes=["profiles:read"])
    assert key.name == "Club app"
    with pytest.raises(CrmError):
        api_key_create(club=club_a, actor=Actor.system(), name="   ", scopes=["profiles:read"])
    assert ApiKey.objects.for_club(club_a).count() == 1


def test_a_new_expiry_is_recorded_as_iso_text(club_a, key_a):
    expires_at = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
    api_key_update(
        club=club_a,
        actor=Actor.system(),
        api_key=key_a,
        name="Club app",
        scopes=["profiles:read"],
        expires_at=expires_at,
    )
    key_a.refresh_from_db()
    assert key_a.expires_at == expires_at
    assert _only_audit_row(club_a, AuditAction.API_KEY_UPDATE).details == {
        "expires_at": [None, "2027-01-31T12:00:00+00:00"]
    }


def test_a_revoked_key_is_read_only(client_for, club_a, key_a):
    api_key_revoke(club=club_a, actor=Actor.system(), key=key_a)
    client = client_for(club_a, Role.ADMIN)
    response = client.post(reverse("admin:crm_apikey_change", args=[key_a.pk]), _key_form("Revived", "profiles:write"))
    assert response.status_code == 403
    with pytest.raises(CrmError):
        api_key_update(
            club=club_a, actor=Actor.system(), api_key=key_a, name="Revived", scopes=["profiles:write"], expires_at=None
        )
    key_a.refresh_from_db()
    assert (key_a.name, key_a.scopes) == ("Club app", ["profiles:read"])


def test_a_key_revoked_while_its_page_was_open_is_refused_with_a_message(client_for, club_a, key_a):
    client = client_for(club_a, Role.ADMIN)
    reads = []

    def revoke_before_the_save_reads_the_key(execute, sql, params, many, context):
        # The page read the key still live; someone revokes it before the save reads it again.
        if sql.startswith('SELECT "crm_apikey"') and len(reads) < 2:
            reads.append(sql)
            if len(reads) == 2:
                api_key_revoke(club=club_a, actor=Actor.system(), key=key_a)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(revoke_before_the_save_reads_the_key):
        response = client.post(
            reverse("admin:crm_apikey_change", args=[key_a.pk]), _key_form("Revived", "profiles:write"), follow=True
        )

    assert response.status_code == 200
    assert "A revoked key can't be edited" in " ".join(str(message) for message in response.context["messages"])
    key_a.refresh_from_db()
    assert (key_a.name, key_a.scopes) == ("Club app", ["profiles:read"])


def test_another_clubs_key_is_not_edited(client_for, club_a, club_b, key_a):
    client_for(club_b, Role.ADMIN).post(
        reverse("admin:crm_apikey_change", args=[key_a.pk]), _key_form("Hijacked", "profiles:write")
    )
    with pytest.raises(CrmError) as refusal:
        api_key_update(
            club=club_b, actor=Actor.system(), api_key=key_a, name="Hijack", scopes=["profiles:write"], expires_at=None
        )
    assert refusal.value.code == CrmErrorCode.NOT_FOUND
    key_a.refresh_from_db()
    assert key_a.name == "Club app"
    assert not AuditLog.objects.unscoped_across_clubs().filter(action=AuditAction.API_KEY_UPDATE).exists()


def test_another_clubs_key_is_not_revoked(club_a, club_b, key_a):
    with pytest.raises(CrmError) as refusal:
        api_key_revoke(club=club_b, actor=Actor.system(), key=key_a)
    assert refusal.value.code == CrmErrorCode.NOT_FOUND
    key_a.refresh_from_db()
    assert key_a.revoked_at is None
    assert not AuditLog.objects.unscoped_across_clubs().filter(action=AuditAction.API_KEY_REVOKE).exists()


def test_a_key_revoked_meanwhile_is_not_revoked_or_audited_again(club_a, key_a):
    # The revoke action's list was read while the key was live; another admin revoked it since.
    stale = ApiKey.objects.for_club(club_a).get(pk=key_a.pk)
    api_key_revoke(club=club_a, actor=Actor.system(), key=key_a)
    key_a.refresh_from_db()
    revoked_at = key_a.revoked_at
    assert api_key_revoke(club=club_a, actor=Actor.system(), key=stale).revoked_at == revoked_at
    key_a.refresh_from_db()
    assert key_a.revoked_at == revoked_at
    assert _only_audit_row(club_a, AuditAction.API_KEY_REVOKE)


# --- Staff and the club -------------------------------------------------------------------


def test_removing_staff_in_bulk_audits_each_removal_and_keeps_the_last_owner(client_for, club_a):
    client = client_for(club_a, Role.ADMIN)
    marketer = staff_in(club_a, Role.MARKETER)
    owner = staff_in(club_a, Role.OWNER)
    memberships = ClubMembership.objects.filter(club=club_a, user__in=[marketer, owner])
    selected = list(memberships.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:crm_clubmembership_changelist"),
        {"action": "remove_selected", "_selected_action": selected},
        follow=True,
    )
    assert list(memberships.values_list("user", flat=True)) == [owner.pk]
    assert _by_the_client(_only_audit_row(club_a, AuditAction.STAFF_REMOVE), client)
    shown = [str(message) for message in response.context["messages"]]
    assert "Removed 1 staff member(s); 1 refused." in shown
    assert not any("Successfully deleted" in message for message in shown)


def test_a_refused_staff_removal_is_not_logged_as_a_deletion(client_for, club_a):
    client = client_for(club_a, Role.ADMIN)
    owner = staff_in(club_a, Role.OWNER)
    membership = ClubMembership.objects.get(club=club_a, user=owner)
    for action in ("remove_selected", "delete_selected"):
        client.post(
            reverse("admin:crm_clubmembership_changelist"),
            {"action": action, "_selected_action": [membership.pk], "post": "yes"},
        )
    assert ClubMembership.objects.filter(pk=membership.pk).exists()
    assert not LogEntry.objects.filter(action_flag=DELETION, object_id=str(membership.pk)).exists()


def test_editing_the_clubs_settings_is_audited(client_for, club_a):
    client = client_for(club_a, Role.ADMIN)
    form = {
        "name": "Alpha Golf & Country Club",
        "country": club_a.country,
        "timezone": club_a.timezone,
        "default_phone_region": club_a.default_phone_region,
        "currency": club_a.currency,
        "settings": "{}",
    }
    response = client.post(reverse("admin:crm_club_change", args=[club_a.pk]), form)
    assert response.status_code == 302
    club_a.refresh_from_db()
    assert club_a.name == "Alpha Golf & Country Club"
    row = _only_audit_row(club_a, AuditAction.CLUB_UPDATE)
    assert row.details == {"name": ["Alpha Golf Club", "Alpha Golf & Country Club"]} and _by_the_client(row, client)


def test_profiles_in_a_tag_stay_tagged_when_another_clubs_admin_posts_a_bulk_delete(client_for, club_a, club_b):
    tag = TagFactory(club=club_a, name="vip")
    ProfileTagFactory(tag=tag, profile=ProfileFactory(club=club_a))
    client_for(club_b, Role.ADMIN).post(
        reverse("admin:crm_tag_changelist"), {"action": "delete_selected", "_selected_action": [tag.pk], "post": "yes"}
    )
    assert ProfileTag.objects.for_club(club_a).count() == 1
