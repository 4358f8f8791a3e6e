"""Staff of club B never see or change club A's data through the admin.

The marketer pages, the REST API and GraphQL are covered endpoint by endpoint by the isolation
matrix (tests/platform/test_club_isolation_matrix.py)."""

import pytest
from django.urls import reverse

from crm.models import CustomerProfile, Note, ProfileTag, Role
from tests.factories import ActivityFactory, NoteFactory, ProfileFactory, TagFactory


@pytest.fixture
def bravo_admin(client_for, club_b):
    return client_for(club_b, Role.ADMIN)


def test_admin_change_page_of_another_clubs_profile_is_404(bravo_admin, profile_a):
    url = reverse("admin:crm_customerprofile_change", args=[profile_a.pk])
    response = bravo_admin.get(url)
    # Django's admin answers a redirect with "doesn't exist" for unknown ids; never the object.
    assert response.status_code in (302, 404)
    assert b"Alice" not in response.content


def test_admin_post_to_another_clubs_profile_changes_nothing(bravo_admin, profile_a):
    url = reverse("admin:crm_customerprofile_change", args=[profile_a.pk])
    bravo_admin.post(url, {"first_name": "Mallory", "last_name": "Anders"})
    profile_a.refresh_from_db()
    assert profile_a.first_name == "Alice"


def test_admin_changelist_lists_only_own_club(bravo_admin, club_b, profile_a):
    ProfileFactory(club=club_b, first_name="Bertie", last_name="Brown")
    response = bravo_admin.get(reverse("admin:crm_customerprofile_changelist"))
    assert response.status_code == 200
    assert b"Bertie" in response.content
    assert b"Alice" not in response.content


def test_admin_search_does_not_reach_another_club(bravo_admin, profile_a):
    response = bravo_admin.get(reverse("admin:crm_customerprofile_changelist"), {"q": "alice@alpha.test"})
    assert b"Anders" not in response.content


@pytest.mark.parametrize("admin_name", ["crm_activity", "crm_profileidentifier", "crm_tag", "crm_auditlog"])
def test_admin_lists_of_other_models_hold_only_own_club(bravo_admin, profile_a, admin_name):
    ActivityFactory(profile=profile_a, summary="Alpha-only round")
    TagFactory(club=profile_a.club, name="alpha-vip")
    response = bravo_admin.get(reverse(f"admin:{admin_name}_changelist"))
    assert response.status_code == 200
    assert b"Alpha-only round" not in response.content
    assert b"alpha-vip" not in response.content


def test_admin_autocomplete_and_tag_choices_come_from_own_club(client_for, club_a, club_b, profile_a):
    TagFactory(club=club_a, name="alpha-vip")
    TagFactory(club=club_b, name="bravo-vip")
    own = ProfileFactory(club=club_b)
    client = client_for(club_b, Role.ADMIN)
    response = client.get(reverse("admin:crm_customerprofile_change", args=[own.pk]))
    assert b"bravo-vip" in response.content
    assert b"alpha-vip" not in response.content


def test_admin_tag_action_ignores_another_clubs_ids(bravo_admin, profile_a):
    response = bravo_admin.post(
        reverse("admin:crm_customerprofile_changelist"),
        {"action": "tag_selected", "_selected_action": [profile_a.pk], "apply": "1", "tag_name": "hijack"},
    )
    assert response.status_code in (200, 302)
    assert not ProfileTag.objects.for_club(profile_a.club).exists()


def test_another_clubs_note_is_not_editable_through_profile_inline(bravo_admin, club_b, profile_a):
    note = NoteFactory(profile=profile_a, body="Alpha private note")
    own = ProfileFactory(club=club_b)
    url = reverse("admin:crm_customerprofile_change", args=[own.pk])
    page = bravo_admin.get(url)
    assert b"Alpha private note" not in page.content
    note.refresh_from_db()
    assert note.body == "Alpha private note"
    assert Note.objects.for_club(club_b).count() == 0
    assert CustomerProfile.objects.for_club(club_b).count() == 1
