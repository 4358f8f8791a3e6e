"""What each role may do (SPEC 2): viewers read, staff edit profiles, marketers market, owners/admins manage."""

import pytest
from django.urls import reverse

from crm.models import AuditAction, AuditLog, ClubMembership, CustomerProfile, Role
from tests.conftest import staff_in
from tests.factories import ProfileFactory


def profile_form_data(profile, **changes):
    data = {
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "primary_email": profile.primary_email,
        "primary_phone": profile.primary_phone,
        "date_of_birth": "",
        "gender": "",
        "address_line": "",
        "city": "",
        "postcode": "",
        "country": "",
        "locale": "",
        "timezone": "",
        "custom_attributes": "{}",
        "initial-custom_attributes": "{}",  # the browser posts it: a callable default shows hidden initial
        "identifiers-TOTAL_FORMS": "0",
        "identifiers-INITIAL_FORMS": "0",
        "profile_tags-TOTAL_FORMS": "0",
        "profile_tags-INITIAL_FORMS": "0",
        "notes-TOTAL_FORMS": "0",
        "notes-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


def test_viewer_sees_profile_read_only_and_cannot_change_it(client_for, club_a, profile_a):
    client = client_for(club_a, Role.VIEWER)
    url = reverse("admin:crm_customerprofile_change", args=[profile_a.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="first_name"' not in page.content  # rendered read-only
    response = client.post(url, profile_form_data(profile_a, first_name="Mallory"))
    assert response.status_code == 403
    profile_a.refresh_from_db()
    assert profile_a.first_name == "Alice"
    assert not AuditLog.objects.for_club(club_a).filter(action=AuditAction.PROFILE_UPDATE).exists()


def test_front_desk_staff_edits_a_profile_and_the_edit_is_stamped_and_audited(client_for, club_a, profile_a):
    client = client_for(club_a, Role.STAFF)
    url = reverse("admin:crm_customerprofile_change", args=[profile_a.pk])
    response = client.post(url, profile_form_data(profile_a, first_name="Alicia", primary_phone="082 123 4567"))
    assert response.status_code == 302, response.content[:2000]
    profile_a.refresh_from_db()
    assert profile_a.first_name == "Alicia"
    assert profile_a.primary_phone == "+27821234567"
    assert profile_a.field_sources["first_name"]["source"] == "staff"
    assert profile_a.identifiers.filter(kind="phone", value="+27821234567").exists()
    audit = AuditLog.objects.for_club(club_a).get(action=AuditAction.PROFILE_UPDATE)
    assert set(audit.details["fields"]) == {"first_name", "primary_phone"}
    assert audit.actor == client.user


def test_invalid_phone_is_a_form_error_and_nothing_is_saved(client_for, club_a, profile_a):
    client = client_for(club_a, Role.STAFF)
    url = reverse("admin:crm_customerprofile_change", args=[profile_a.pk])
    response = client.post(url, profile_form_data(profile_a, first_name="Changed", primary_phone="12"))
    assert response.status_code == 200
    assert b"not a valid phone number" in response.content or b"not a phone number" in response.content
    profile_a.refresh_from_db()
    assert profile_a.first_name == "Alice"


def test_staff_cannot_edit_source_owned_fields(client_for, club_a, profile_a):
    client = client_for(club_a, Role.ADMIN)
    url = reverse("admin:crm_customerprofile_change", args=[profile_a.pk])
    client.post(url, profile_form_data(profile_a, membership_status="resigned", email_opt_in="on"))
    profile_a.refresh_from_db()
    assert profile_a.membership_status == "active"
    assert profile_a.email_opt_in is False


def test_nobody_deletes_profiles_in_the_admin(client_for, club_a, profile_a):
    client = client_for(club_a, Role.OWNER)
    response = client.post(reverse("admin:crm_customerprofile_delete", args=[profile_a.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert CustomerProfile.objects.for_club(club_a).filter(pk=profile_a.pk).exists()


@pytest.mark.parametrize("role", [Role.MARKETER, Role.STAFF, Role.VIEWER])
def test_only_owners_and_admins_manage_staff(client_for, club_a, role):
    client = client_for(club_a, role)
    assert client.get(reverse("admin:crm_clubmembership_changelist")).status_code == 403
    response = client.post(reverse("admin:crm_clubmembership_add"), {"email": "new@club.test", "role": Role.ADMIN})
    assert response.status_code == 403
    assert not ClubMembership.objects.filter(user__email="new@club.test").exists()


def test_admin_invites_staff_who_get_a_password_email(client_for, club_a, mailoutbox):
    client = client_for(club_a, Role.ADMIN)
    response = client.post(reverse("admin:crm_clubmembership_add"), {"email": "New@Club.test", "role": Role.MARKETER})
    assert response.status_code == 302
    membership = ClubMembership.objects.get(club=club_a, user__email="new@club.test")
    assert membership.role == Role.MARKETER
    assert mailoutbox and mailoutbox[0].to == ["new@club.test"]
    assert AuditLog.objects.for_club(club_a).filter(action=AuditAction.STAFF_INVITE).exists()


def test_admin_cannot_create_an_owner_but_an_owner_can(client_for, club_a):
    admin_client = client_for(club_a, Role.ADMIN)
    admin_client.post(reverse("admin:crm_clubmembership_add"), {"email": "boss@club.test", "role": Role.OWNER})
    assert not ClubMembership.objects.filter(user__email="boss@club.test").exists()


def test_last_owner_cannot_be_demoted(client, club_a):
    owner = staff_in(club_a, Role.OWNER)
    client.force_login(owner)
    membership = ClubMembership.objects.get(club=club_a, user=owner)
    client.post(reverse("admin:crm_clubmembership_change", args=[membership.pk]), {"role": Role.VIEWER})
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_marketer_cannot_open_club_settings_of_the_club(client_for, club_a):
    client = client_for(club_a, Role.MARKETER)
    assert client.get(reverse("admin:crm_club_change", args=[club_a.pk])).status_code == 403


def test_admin_edits_own_club_settings_but_not_another_club(client_for, club_a, club_b):
    client = client_for(club_a, Role.ADMIN)
    assert client.get(reverse("admin:crm_club_change", args=[club_a.pk])).status_code == 200
    assert client.get(reverse("admin:crm_club_change", args=[club_b.pk])).status_code in (302, 403, 404)


def test_pages_require_login(client, profile_a):
    response = client.get(reverse("crm:profile_detail", args=[profile_a.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_user_without_a_club_is_told_so(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    response = client.get(reverse("crm:dashboard"))
    assert response.status_code == 403
    assert b"No club yet" in response.content


def test_owner_without_totp_must_set_it_up_first(client, club_a):
    from tests.factories import UserFactory

    owner = UserFactory()
    ClubMembership.objects.create(club=club_a, user=owner, role=Role.OWNER)
    client.force_login(owner)
    response = client.get(reverse("crm:dashboard"))
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    assert client.get(reverse("admin:index")).status_code == 302


def test_marketer_without_totp_may_work(client_for, club_a):
    client = client_for(club_a, Role.MARKETER)
    assert client.get(reverse("crm:dashboard")).status_code == 200


def test_viewer_cannot_export(client_for, club_a, profile_a):
    client = client_for(club_a, Role.VIEWER)
    assert client.get(reverse("crm:profile_export")).status_code == 403
    response = client.post(
        reverse("admin:crm_customerprofile_changelist"),
        {"action": "export_selected_csv", "_selected_action": [profile_a.pk]},
    )
    assert response.get("Content-Type", "").startswith("text/html")
    assert not AuditLog.objects.for_club(club_a).filter(action=AuditAction.EXPORT).exists()


def test_staff_role_sees_no_export_and_no_staff_admin(client_for, club_a):
    ProfileFactory(club=club_a)
    client = client_for(club_a, Role.STAFF)
    index = client.get(reverse("admin:index"))
    assert b"Club memberships" not in index.content
    assert b"Audit logs" not in index.content
