"""GraphQL at /graphql/: the 360, the profiles connection, note and tag mutations; keys and sessions,
scopes, club isolation, error shape, depth limit, throttling, and query counts (no N+1)."""

import json

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from graphql import GraphQLError

from crm.edges.graph import ClubGraphQLView
from crm.errors import CrmError, CrmErrorCode
from crm.models import ApiKey, AuditAction, AuditLog, Note, Role, Tag
from tests.conftest import staff_in
from tests.factories import (
    ActivityFactory,
    IdentifierFactory,
    NoteFactory,
    ProfileFactory,
    ProfileTagFactory,
    TagFactory,
    days_ago,
)
from tests.factories.api import api_for

READ, WRITE = "profiles:read", "profiles:write"

PROFILE_360 = """
query Profile360($id: ID!) {
  profile(id: $id) {
    id firstName lastName membershipStatus
    identifiers { kind value source }
    tags
    notes(first: 2) { body isPinned author }
    recentActivities(first: 3) { type summary occurredAt }
    scores { engagement churnRisk lifecycleStage }
  }
}
"""

PROFILES_PAGE = """
query Page($first: Int, $after: String, $search: String, $status: String, $tag: String, $order: ProfileOrder) {
  profiles(first: $first, after: $after, search: $search, status: $status, tag: $tag, orderBy: $order) {
    edges {
      cursor
      node { id lastName tags identifiers { kind } notes(first: 1) { body } recentActivities(first: 2) { type } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def run(client: Client, query: str, **variables):
    response = client.post(
        "/graphql/", data=json.dumps({"query": query, "variables": variables}), content_type="application/json"
    )
    return response.status_code, response.json()


def error_codes(body) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


@pytest.fixture
def anna(club_a):
    anna = ProfileFactory(club=club_a, first_name="Anna", last_name="Merwe", engagement_score=72, churn_risk=0.12)
    IdentifierFactory(profile=anna, kind="email", value="anna@alpha.test")
    IdentifierFactory(profile=anna, kind="scl_member_id", value="M1042")
    for name in ("weekend", "ladies"):
        ProfileTagFactory(profile=anna, tag=TagFactory(club=club_a, name=name))
    NoteFactory(profile=anna, body="old note")
    NoteFactory(profile=anna, body="pinned note", is_pinned=True)
    NoteFactory(profile=anna, body="new note")
    history = ((30, "booking.created"), (20, "round.completed"), (10, "payment.received"), (1, "round.completed"))
    for days, kind in history:
        ActivityFactory(profile=anna, type=kind, occurred_at=days_ago(days))
    return anna


# --- The 360 ---------------------------------------------------------------------------------------


def test_profile_360_joins_identifiers_tags_notes_activities_and_scores(club_a, anna):
    status, body = run(api_for(club_a), PROFILE_360, id=anna.pk)
    assert status == 200 and "errors" not in body
    profile = body["data"]["profile"]
    assert (profile["id"], profile["firstName"], profile["lastName"]) == (str(anna.pk), "Anna", "Merwe")
    assert {(row["kind"], row["value"]) for row in profile["identifiers"]} == {
        ("email", "anna@alpha.test"),
        ("scl_member_id", "M1042"),
    }
    assert profile["tags"] == ["ladies", "weekend"]
    assert [note["body"] for note in profile["notes"]] == ["pinned note", "new note"]
    assert [row["type"] for row in profile["recentActivities"]] == [
        "round.completed",
        "payment.received",
        "round.completed",
    ]
    assert profile["scores"] == {"engagement": 72, "churnRisk": 0.12, "lifecycleStage": "new"}


def test_profile_360_costs_the_same_queries_however_much_a_profile_has(club_a, anna):
    quiet = ProfileFactory(club=club_a)
    client = api_for(club_a)
    run(client, PROFILE_360, id=quiet.pk)  # warm the key's last-used stamp
    with CaptureQueriesContext(connection) as for_quiet:
        run(client, PROFILE_360, id=quiet.pk)
    with CaptureQueriesContext(connection) as for_busy:
        run(client, PROFILE_360, id=anna.pk)
    assert len(for_busy) == len(for_quiet)
    data_queries = [q["sql"] for q in for_busy.captured_queries if '"crm_apikey"' not in q["sql"]]
    # profile, identifiers, tags, notes, activities: one each.
    assert len(data_queries) == 5, data_queries


def test_a_merged_profiles_id_is_null(club_a, anna):
    gone = ProfileFactory(club=club_a, merged_into=anna)
    assert run(api_for(club_a), PROFILE_360, id=gone.pk)[1] == {"data": {"profile": None}}


def test_a_non_numeric_id_is_a_validation_error(club_a):
    status, body = run(api_for(club_a), PROFILE_360, id="abc")
    assert status == 200 and body["data"]["profile"] is None
    assert body["errors"][0]["extensions"] == {
        "code": "invalid",
        "details": {"fields": {"id": ["A numeric id is required."]}},
    }


def test_nested_list_sizes_are_bounded(club_a, anna):
    query = "query($id: ID!) { profile(id: $id) { recentActivities(first: 500) { id } } }"
    status, body = run(api_for(club_a), query, id=anna.pk)
    assert error_codes(body) == ["invalid"]
    assert body["errors"][0]["extensions"]["details"]["fields"] == {"first": ["Must be between 1 and 50."]}


# --- The profiles connection -----------------------------------------------------------------------


def test_pages_cover_every_profile_once_in_order_while_rows_change(club_a):
    people = ProfileFactory.create_batch(23, club=club_a)
    client, seen, after = api_for(club_a), [], None
    while True:
        _, body = run(client, PROFILES_PAGE, first=10, after=after, order="LAST_NAME")
        page = body["data"]["profiles"]
        seen += [(edge["node"]["lastName"], int(edge["node"]["id"])) for edge in page["edges"]]
        if not seen or len(seen) == 10:
            ProfileFactory(club=club_a, last_name="Aaaa")  # sorts before the cursor: never shifts later pages
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert [pk for _, pk in seen] == [p.pk for p in sorted(people, key=lambda p: (p.last_name, p.first_name, p.pk))]


def test_search_and_filters_narrow_the_connection(club_a, anna):
    ProfileFactory(club=club_a, first_name="Bob", last_name="Annandale", membership_status="lapsed")
    client = api_for(club_a)

    def ids(**variables):
        _, body = run(client, PROFILES_PAGE, **variables)
        return [edge["node"]["lastName"] for edge in body["data"]["profiles"]["edges"]]

    assert ids(search="anna m") == ["Merwe"]
    assert ids(search="anna@alpha.test") == ["Merwe"]
    assert ids(status="lapsed") == ["Annandale"]
    assert ids(tag="weekend") == ["Merwe"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"first": 0}, "first"), ({"first": 101}, "first"), ({"after": "garbage"}, "after"), ({"status": "x"}, "status")],
)
def test_bad_connection_arguments_name_the_field(club_a, variables, field):
    _, body = run(api_for(club_a), PROFILES_PAGE, **variables)
    assert error_codes(body) == ["invalid"]
    assert field in body["errors"][0]["extensions"]["details"]["fields"]


def test_a_page_costs_the_same_queries_for_3_or_30_profiles(club_a):
    client = api_for(club_a)

    def page_queries(count: int) -> int:
        for person in ProfileFactory.create_batch(count, club=club_a):
            IdentifierFactory(profile=person)
            NoteFactory(profile=person)
            ActivityFactory.create_batch(3, profile=person)
            ProfileTagFactory(profile=person, tag=TagFactory(club=club_a))
        run(client, PROFILES_PAGE, first=100)
        with CaptureQueriesContext(connection) as captured:
            _, body = run(client, PROFILES_PAGE, first=100)
        assert all(len(edge["node"]["recentActivities"]) == 2 for edge in body["data"]["profiles"]["edges"])
        return len(captured)

    small = page_queries(3)
    assert page_queries(27) == small  # 30 profiles now


def test_the_connection_never_lists_another_clubs_profiles(club_a, club_b, anna):
    ProfileFactory(club=club_b, last_name="Bravo")
    _, body = run(api_for(club_b), PROFILES_PAGE, search="anna")
    assert body["data"]["profiles"]["edges"] == []
    _, body = run(api_for(club_b), PROFILES_PAGE)
    assert [edge["node"]["lastName"] for edge in body["data"]["profiles"]["edges"]] == ["Bravo"]


# --- Mutations -------------------------------------------------------------------------------------

ADD_NOTE = """
mutation($profileId: ID!, $body: String!, $pinned: Boolean) {
  addNote(profileId: $profileId, body: $body, isPinned: $pinned) { note { id body isPinned author } }
}
"""
EDIT_NOTE = "mutation($id: ID!, $body: String) { editNote(id: $id, body: $body) { note { body } } }"
DELETE_NOTE = "mutation($id: ID!) { deleteNote(id: $id) { deletedId } }"
TAG = "mutation($tag: String!, $ids: [ID!]!) { tagProfiles(tag: $tag, profileIds: $ids) { changed } }"
UNTAG = "mutation($tag: String!, $ids: [ID!]!) { untagProfiles(tag: $tag, profileIds: $ids) { changed } }"


def test_notes_are_added_edited_and_deleted_with_a_write_key(club_a, anna):
    client = api_for(club_a, READ, WRITE)
    _, body = run(client, ADD_NOTE, profileId=anna.pk, body="  Wants a locker  ", pinned=True)
    note = body["data"]["addNote"]["note"]
    assert (note["body"], note["isPinned"], note["author"]) == ("Wants a locker", True, None)
    _, body = run(client, EDIT_NOTE, id=note["id"], body="Has a locker")
    assert body["data"]["editNote"]["note"]["body"] == "Has a locker"
    _, body = run(client, DELETE_NOTE, id=note["id"])
    assert body["data"]["deleteNote"]["deletedId"] == note["id"]
    assert not Note.objects.for_club(club_a).filter(pk=note["id"]).exists()


def test_a_key_write_is_audited_with_the_key(club_a, anna):
    run(api_for(club_a, READ, WRITE), ADD_NOTE, profileId=anna.pk, body="Wants a locker", pinned=False)

    row = AuditLog.objects.for_club(club_a).get(action="note.add")
    assert (row.api_key, row.actor) == (ApiKey.objects.for_club(club_a).get(), None)


def test_a_refusal_by_a_service_is_shown_with_its_code_and_details_in_extensions():
    refusal = CrmError(CrmErrorCode.INVALID_TAG, "A tag name needs 1–60 characters.", {"name": ""})

    formatted = ClubGraphQLView.format_error(GraphQLError("wrapped", path=["tagProfiles"], original_error=refusal))

    assert formatted["message"] == "A tag name needs 1–60 characters."
    assert formatted["path"] == ["tagProfiles"]
    assert formatted["extensions"] == {"code": "invalid_tag", "details": {"name": ""}}


def test_a_staff_session_writes_notes_as_that_person_and_needs_csrf(club_a, anna):
    marketer = staff_in(club_a, Role.MARKETER)
    client = Client()
    client.force_login(marketer)
    _, body = run(client, ADD_NOTE, profileId=anna.pk, body="Called back")
    assert body["data"]["addNote"]["note"]["author"] == marketer.email

    checked = Client(enforce_csrf_checks=True)
    checked.force_login(marketer)
    status, body = run(checked, ADD_NOTE, profileId=anna.pk, body="No token")
    assert status == 403 and body["error"]["code"] == "permission_denied" and "CSRF" in body["error"]["message"]
    assert not Note.objects.for_club(club_a).filter(body="No token").exists()


def test_viewers_and_read_keys_cannot_write(club_a, anna):
    viewer = Client()
    viewer.force_login(staff_in(club_a, Role.VIEWER))
    for client in (viewer, api_for(club_a, READ)):
        _, body = run(client, ADD_NOTE, profileId=anna.pk, body="Sneaky")
        assert error_codes(body) == ["permission_denied"]
        assert "profiles:write" in body["errors"][0]["message"]
        _, body = run(client, TAG, tag="vip", ids=[anna.pk])
        assert error_codes(body) == ["permission_denied"]
    assert not Note.objects.for_club(club_a).filter(body="Sneaky").exists()
    assert not Tag.objects.for_club(club_a).filter(name="vip").exists()


def test_a_key_without_profiles_read_is_refused_at_the_door(club_a, anna):
    status, body = run(api_for(club_a, "events:ingest"), PROFILE_360, id=anna.pk)
    assert status == 403 and body["error"]["code"] == "permission_denied"
    status, body = run(Client(), PROFILE_360, id=anna.pk)
    assert status == 401 and body["error"]["code"] == "not_authenticated"


def test_tagging_many_profiles_and_untagging_them(club_a, anna):
    others = ProfileFactory.create_batch(3, club=club_a)
    client = api_for(club_a, READ, WRITE)
    ids = [anna.pk, *(p.pk for p in others)]
    assert run(client, TAG, tag="Weekend", ids=ids)[1]["data"]["tagProfiles"]["changed"] == 3  # anna had it
    assert run(client, UNTAG, tag="weekend", ids=ids)[1]["data"]["untagProfiles"]["changed"] == 4


def test_a_tag_named_in_a_tagging_mutation_is_audited_as_created_by_the_key(club_a, anna):
    run(api_for(club_a, READ, WRITE), TAG, tag="Twilight", ids=[anna.pk])
    (created,) = AuditLog.objects.for_club(club_a).filter(action=AuditAction.TAG_CREATE)
    assert created.api_key is not None
    assert created.object_id == str(Tag.objects.for_club(club_a).get(name="Twilight").pk)


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (ADD_NOTE, {"body": "   "}, "body"),
        (ADD_NOTE, {"profileId": "x"}, "profileId"),
        (TAG, {"tag": "x" * 61}, "tag"),
        (TAG, {"tag": "vip", "ids": []}, "profile_ids"),
        (TAG, {"tag": "vip", "ids": ["seven"]}, "profile_ids"),
    ],
)
def test_invalid_mutations_answer_with_codes_and_fields_and_store_nothing(club_a, anna, query, variables, field):
    variables = {"profileId": anna.pk, "body": "A note", "ids": [anna.pk], **variables}
    _, body = run(api_for(club_a, READ, WRITE), query, **variables)
    extensions = body["errors"][0]["extensions"]
    assert extensions["code"] == "invalid" and field in extensions["details"]["fields"]
    assert Note.objects.for_club(club_a).count() == 3
    assert not Tag.objects.for_club(club_a).filter(name="vip").exists()


# --- Protocol: depth, syntax, throttling, SDL -------------------------------------------------------


@override_settings(GRAPHQL_MAX_DEPTH=3)
def test_queries_deeper_than_the_limit_are_refused_before_they_run(club_a, anna):
    status, body = run(api_for(club_a), PROFILES_PAGE)
    assert status == 400 and error_codes(body) == ["query_too_deep"]
    assert body["errors"][0]["extensions"]["details"] == {"depth": 4, "limit": 3}
    assert "data" not in body


def test_cyclic_fragments_are_a_validation_error_not_a_crash(club_a):
    query = "fragment F on Profile { id ...F } query { profiles { edges { node { ...F } } } }"
    status, body = run(api_for(club_a), query)
    assert status == 400 and "F" in body["errors"][0]["message"]


def test_syntax_errors_and_unknown_fields_carry_a_code(club_a):
    status, body = run(api_for(club_a), "query { profile(id: ")
    assert status == 400 and error_codes(body) == ["invalid_query"]
    status, body = run(api_for(club_a), "query { profiles { edges { node { passwordHash } } } }")
    assert status == 400 and error_codes(body) == ["invalid_query"] and "passwordHash" in body["errors"][0]["message"]


@override_settings(API_THROTTLE_RATES={"key": "2/min", "club": "1000/min"})
def test_graphql_calls_share_the_keys_throttle(club_a, anna):
    from django.core.cache import cache

    cache.clear()
    client = api_for(club_a)
    statuses = [run(client, PROFILE_360, id=anna.pk)[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = client.post("/graphql/", data="{}", content_type="application/json")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "throttled"


def test_me_says_which_club_and_scopes(club_a):
    _, body = run(api_for(club_a, READ, WRITE), "{ me { club { slug } auth keyPrefix scopes } }")
    me = body["data"]["me"]
    assert (me["club"]["slug"], me["auth"], me["scopes"]) == ("alpha", "api_key", [READ, WRITE])
    assert len(me["keyPrefix"]) == 8


def test_the_sdl_is_published_for_codegen(client):
    response = client.get("/api/schema/graphql")
    assert response.status_code == 200
    assert "profile(id: ID!): Profile" in response.content.decode()
    assert "tagProfiles(" in response.content.decode()


def test_queries_also_run_over_get_but_mutations_need_post(club_a, anna):
    client = api_for(club_a, READ, WRITE)
    response = client.get("/graphql/", {"query": "{ me { club { slug } } }"})
    assert response.status_code == 200 and response.json()["data"]["me"]["club"]["slug"] == "alpha"
    response = client.get("/graphql/", {"query": 'mutation { addNote(profileId: 1, body: "x") { note { id } } }'})
    assert response.status_code == 405
    assert Note.objects.for_club(club_a).count() == 3
