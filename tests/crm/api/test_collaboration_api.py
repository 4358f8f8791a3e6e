"""Notes, tags, merges and suggestions over REST: scopes, club isolation, nothing written on refusal."""

from crm.models import AuditAction, AuditLog, MergeRecord, Note, ProfileTag, Tag
from tests.factories import MergeSuggestionFactory, ProfileFactory
from tests.factories.api import api_for

WRITE = ("profiles:read", "profiles:write")


def test_notes_are_added_edited_and_deleted_in_the_club(club_a, profile_a):
    client = api_for(club_a, *WRITE)
    created = client.post(
        f"/api/v1/profiles/{profile_a.pk}/notes", {"body": "Prefers 7am"}, content_type="application/json"
    )
    assert created.status_code == 201
    note_id = created.json()["id"]
    edited = client.patch(
        f"/api/v1/profiles/{profile_a.pk}/notes/{note_id}", {"is_pinned": True}, content_type="application/json"
    )
    assert edited.json()["is_pinned"] is True
    assert [row["body"] for row in client.get(f"/api/v1/profiles/{profile_a.pk}/notes").json()] == ["Prefers 7am"]
    assert client.delete(f"/api/v1/profiles/{profile_a.pk}/notes/{note_id}").status_code == 204
    assert not Note.objects.for_club(club_a).exists()


def test_a_blank_note_is_a_400_in_the_error_shape_and_stores_nothing(club_a, profile_a):
    client = api_for(club_a, *WRITE)
    empty = client.post(f"/api/v1/profiles/{profile_a.pk}/notes", {"body": "  "}, content_type="application/json")
    assert empty.status_code == 400 and set(empty.json()["error"]) == {"code", "message", "details"}
    assert not Note.objects.for_club(club_a).exists()


def test_a_read_key_cannot_write_notes_or_tags(club_a, profile_a):
    client = api_for(club_a, "profiles:read")
    assert (
        client.post(
            f"/api/v1/profiles/{profile_a.pk}/notes", {"body": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    response = client.post(
        "/api/v1/tags/add", {"tag": "vip", "profile_ids": [profile_a.pk]}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not Note.objects.for_club(club_a).exists() and not ProfileTag.objects.for_club(club_a).exists()


def test_a_tag_named_in_a_bulk_tagging_is_audited_as_created_by_the_key(club_a, profile_a):
    api_for(club_a, *WRITE).post(
        "/api/v1/tags/add", {"tag": "Twilight", "profile_ids": [profile_a.pk]}, content_type="application/json"
    )
    (created,) = AuditLog.objects.for_club(club_a).filter(action=AuditAction.TAG_CREATE)
    assert created.api_key is not None
    assert created.object_id == str(Tag.objects.for_club(club_a).get(name="Twilight").pk)


def test_bulk_tagging_only_touches_the_clubs_own_profiles(club_a, club_b, profile_a):
    theirs = ProfileFactory(club=club_b)
    client = api_for(club_a, *WRITE)
    added = client.post(
        "/api/v1/tags/add", {"tag": "vip", "profile_ids": [profile_a.pk, theirs.pk]}, content_type="application/json"
    )
    assert added.json() == {"changed": 1}
    assert not ProfileTag.objects.for_club(club_b).exists()
    assert [tag["name"] for tag in client.get("/api/v1/tags").json()] == ["vip"]
    removed = client.post(
        "/api/v1/tags/remove", {"tag": "vip", "profile_ids": [profile_a.pk]}, content_type="application/json"
    )
    assert removed.json() == {"changed": 1}


def test_merging_needs_the_merge_scope(club_a):
    first, second = ProfileFactory(club=club_a), ProfileFactory(club=club_a)
    payload = {"profile_ids": [first.pk, second.pk]}
    assert api_for(club_a, *WRITE).post("/api/v1/merges", payload, content_type="application/json").status_code == 403
    assert not MergeRecord.objects.for_club(club_a).exists()


def test_a_merge_naming_a_profile_of_another_club_is_404_and_merges_nothing(club_a, club_b):
    first, theirs = ProfileFactory(club=club_a), ProfileFactory(club=club_b)
    other = api_for(club_b, "merges:write")
    crossed = other.post("/api/v1/merges", {"profile_ids": [theirs.pk, first.pk]}, content_type="application/json")
    assert crossed.status_code == 404 and not MergeRecord.objects.for_club(club_b).exists()


def test_a_merge_is_undone_through_the_api_with_both_audited(club_a):
    first, second = ProfileFactory(club=club_a), ProfileFactory(club=club_a)
    client = api_for(club_a, "merges:write")
    merged = client.post("/api/v1/merges", {"profile_ids": [first.pk, second.pk]}, content_type="application/json")
    assert merged.status_code == 201
    undone = client.post(f"/api/v1/merges/{merged.json()['id']}/undo")
    assert undone.status_code == 200 and undone.json()["undone_at"]
    assert AuditLog.objects.for_club(club_a).filter(action__in=["profile.merge", "profile.unmerge"]).count() == 2


def test_pending_suggestions_are_listed(club_a):
    suggestion = MergeSuggestionFactory(profile_a__club=club_a, score=0.7)
    client = api_for(club_a, "merges:write", "profiles:read")
    assert [row["id"] for row in client.get("/api/v1/merge-suggestions").json()] == [suggestion.pk]


def test_a_rejected_suggestion_cannot_be_accepted_later(club_a):
    suggestion = MergeSuggestionFactory(profile_a__club=club_a, score=0.7)
    client = api_for(club_a, "merges:write", "profiles:read")
    assert client.post(f"/api/v1/merge-suggestions/{suggestion.pk}/reject").json()["status"] == "rejected"
    again = client.post(f"/api/v1/merge-suggestions/{suggestion.pk}/accept")
    assert again.status_code == 400  # already decided
    assert not MergeRecord.objects.for_club(club_a).exists()


def test_removing_a_tag_no_profile_carries_creates_no_tag(club_a, profile_a):
    response = api_for(club_a, *WRITE).post(
        "/api/v1/tags/remove", {"tag": "Never made", "profile_ids": [profile_a.pk]}, content_type="application/json"
    )

    assert response.status_code == 200 and response.json() == {"changed": 0}
    assert not Tag.objects.for_club(club_a).filter(name__iexact="Never made").exists()
    assert not AuditLog.objects.filter(club=club_a, action="tag.create").exists()
