"""Club isolation, endpoint by endpoint: club A's API key calls every REST endpoint and GraphQL root
field, and club A's staff every marketer page, with club B's ids; each gets a 404, an empty list or a
GraphQL not-found — never club B's data — and nothing of club B changes.

The matrix is checked against the URL resolver and the GraphQL schema, so a new endpoint, page or
root field fails `test_every_*_has_an_entry` until it gets an entry here.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from config.graphql_schema import schema
from crm.events.store import events_store
from crm.kernel.actor import Actor
from crm.kernel.tenancy import ClubScopedModel
from crm.models import ApiScope, AuditLog, Club, InboundEvent, Role
from crm.services.merges import profiles_merge
from marketing.models import Segment
from marketing.services.segment_editing import segment_members_add
from marketing.services.segments import segment_refresh
from tests.factories import (
    ActivityFactory,
    IdentifierFactory,
    MergeSuggestionFactory,
    NoteFactory,
    ProfileFactory,
    ProfileTagFactory,
    SegmentFactory,
    TagFactory,
)
from tests.factories.api import api_for
from tests.factories.events import envelope

API_PREFIX = "api/v1/"
# Page prefixes that are not marketer pages: Django's admin and allauth have isolation tests of their
# own (tests/crm/test_admin_isolation.py), the rest are the API, the schema documents and probes.
NOT_PAGES = ("admin/", "accounts/", "api/", "graphql/", "healthz")

# Words only club B's data contains: no answer to club A may hold any of them.
BRAVO_MARKERS = ("Bertie", "Brannigan", "bertie@bravo.test", "Secret bunker note", "Night owls", "Bunker Gold")


@pytest.fixture
def bravo(club_b):
    """Club B's world: a profile with everything that hangs off one, a merge, a suggestion, events
    (one rejected), a refreshed rule-based segment and a hand-picked list holding the profile."""
    bertie = ProfileFactory(
        club=club_b, first_name="Bertie", last_name="Brannigan", primary_email="bertie@bravo.test"
    )
    IdentifierFactory(profile=bertie, kind="email", value="bertie@bravo.test")
    ActivityFactory(profile=bertie, summary="Bertie's round")
    note = NoteFactory(profile=bertie, body="Secret bunker note")
    tag = TagFactory(club=club_b, name="Night owls")
    ProfileTagFactory(profile=bertie, tag=tag)
    twin, other_twin = ProfileFactory(club=club_b), ProfileFactory(club=club_b)
    merge = profiles_merge(
        club=club_b, actor=Actor.system(), first_id=twin.pk, second_id=other_twin.pk, reason="manual"
    )
    suggestion = MergeSuggestionFactory(profile_a__club=club_b)
    events_store(
        club=club_b,
        raw_events=[
            envelope("member.created", {"member_id": "B1"}, club=club_b),
            envelope("member.created", {}, club=club_b),  # no member id: rejected
        ],
        transport="test",
        enqueue=False,
    )
    inbound_event = InboundEvent.objects.for_club(club_b).get(status="rejected")
    segment = SegmentFactory(club=club_b, name="Bunker Gold")
    segment_refresh(club=club_b, segment=segment)
    hand_picked = SegmentFactory(club=club_b, name="Bunker list", static=True)
    segment_members_add(club=club_b, actor=Actor.system(), segment=hand_picked, profile_ids=[bertie.pk])
    return SimpleNamespace(
        club=club_b,
        profile=bertie,
        note=note,
        tag=tag,
        merge=merge,
        suggestion=suggestion,
        inbound_event=inbound_event,
        segment=segment,
        hand_picked=hand_picked,
    )


def club_rows(club: Club) -> dict[str, list[dict]]:
    """Every row of every club-scoped table that belongs to `club`, the club itself and its audit
    trail (AuditLog is not club-scoped: platform events belong to no club)."""
    rows = {
        "crm.Club": list(Club.objects.filter(pk=club.pk).values()),
        "crm.AuditLog": list(AuditLog.objects.filter(club=club).order_by("pk").values()),
    }
    for model in apps.get_models():
        if issubclass(model, ClubScopedModel):
            rows[model._meta.label] = list(model.objects.for_club(club).order_by("pk").values())
    return rows


def body_text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


# --- What a refusal looks like -------------------------------------------------------------------


def not_found(response, bravo) -> None:
    assert response.status_code == 404, body_text(response)


def api_not_found(response, bravo) -> None:
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"


def empty_list(response, bravo) -> None:
    assert response.status_code == 200, response.content
    assert response.json() == []


def empty_page(response, bravo) -> None:
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


def nothing_changed_count(response, bravo) -> None:
    assert response.status_code == 200, response.content
    assert response.json()["changed"] == 0


def invalid_rule(response, bravo) -> None:
    """A payload naming club B's segment is refused as naming no segment at all."""
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_rule"


def counts_nobody(response, bravo) -> None:
    """Club B's Gold members are not club A's: a Gold rule previewed by club A counts no one."""
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0 and response.json()["sample"] == []


def own_club_only(response, bravo) -> None:
    assert response.status_code == 200, response.content
    assert response.json()["club"]["slug"] == "alpha"


def page_shown(response, bravo) -> None:
    """A page of club A's own; that it holds nothing of club B is checked for every entry."""
    assert response.status_code == 200, body_text(response)


def graph_data(field: str, expected) -> Callable:
    def check(response, bravo) -> None:
        body = response.json()
        assert "errors" not in body, body
        assert body["data"][field] == expected

    return check


def graph_not_found(response, bravo) -> None:
    body = response.json()
    assert [error["extensions"]["code"] for error in body["errors"]] == ["not_found"], body


@dataclass(frozen=True)
class Entry:
    """How club A calls one endpoint with club B's ids (`call(client, bravo)`), and what it gets."""

    call: Callable
    then: Callable
    scopes: tuple[str, ...] = ()


JSON = {"content_type": "application/json"}
READ_PROFILES = (ApiScope.PROFILES_READ,)
WRITE_PROFILES = (ApiScope.PROFILES_READ, ApiScope.PROFILES_WRITE)
EVENTS = (ApiScope.EVENTS_INGEST,)
MERGES = (ApiScope.MERGES_WRITE, ApiScope.PROFILES_READ)
READ_SEGMENTS = (ApiScope.SEGMENTS_READ, ApiScope.PROFILES_READ)
WRITE_SEGMENTS = (ApiScope.SEGMENTS_READ, ApiScope.SEGMENTS_WRITE, ApiScope.PROFILES_READ)
GOLD = {"field": "tier", "op": "eq", "value": "Gold"}


def events_for_bravo(client, bravo):
    body = json.dumps([envelope("member.created", {"member_id": "A-sent"}, club=bravo.club)])
    return client.post("/api/v1/events", data=body, content_type="application/json")


def events_club_mismatch(response, bravo) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "club_mismatch"


def replay_not_replayable(response, bravo) -> None:
    assert response.status_code == 200, response.content
    assert response.json() == {"queued": 0, "still_invalid": 0, "not_replayable": 1}


def api_call(method: str, path: str, body=None, query: dict | None = None) -> Callable:
    """Club A's `method` on /api/v1/`path` (formatted with `bravo`), with a JSON body (`body(bravo)`
    when it needs club B's ids) or a query string."""

    def call(client, bravo):
        send, url = getattr(client, method.lower()), "/api/v1/" + path.format(bravo=bravo)
        if body is not None:
            return send(url, body(bravo) if callable(body) else body, **JSON)
        return send(url, query) if query else send(url)

    return call


API_MATRIX: dict[tuple[str, str], Entry] = {
    # crm: events
    ("events", "POST"): Entry(events_for_bravo, events_club_mismatch, EVENTS),
    ("inbound-events", "GET"): Entry(api_call("GET", "inbound-events"), empty_page, EVENTS),
    ("inbound-events/replay", "POST"): Entry(
        api_call("POST", "inbound-events/replay", lambda b: {"ids": [b.inbound_event.pk]}),
        replay_not_replayable,
        EVENTS,
    ),
    ("inbound-events/<int:event_id>", "GET"): Entry(
        api_call("GET", "inbound-events/{bravo.inbound_event.pk}"), api_not_found, EVENTS
    ),
    # crm: profiles and what hangs off them
    ("identifiers", "GET"): Entry(
        api_call("GET", "identifiers", query={"kind": "email", "value": "bertie@bravo.test"}),
        empty_list,
        READ_PROFILES,
    ),
    ("me", "GET"): Entry(api_call("GET", "me"), own_club_only, READ_PROFILES),
    ("profiles", "GET"): Entry(api_call("GET", "profiles"), empty_page, READ_PROFILES),
    ("profiles/<int:profile_id>", "GET"): Entry(
        api_call("GET", "profiles/{bravo.profile.pk}"), api_not_found, READ_PROFILES
    ),
    ("profiles/<int:profile_id>", "PATCH"): Entry(
        api_call("PATCH", "profiles/{bravo.profile.pk}", {"first_name": "Mallory"}), api_not_found, WRITE_PROFILES
    ),
    ("profiles/<int:profile_id>/timeline", "GET"): Entry(
        api_call("GET", "profiles/{bravo.profile.pk}/timeline"), api_not_found, READ_PROFILES
    ),
    ("profiles/<int:profile_id>/identifiers", "GET"): Entry(
        api_call("GET", "profiles/{bravo.profile.pk}/identifiers"), api_not_found, READ_PROFILES
    ),
    ("profiles/<int:profile_id>/notes", "GET"): Entry(
        api_call("GET", "profiles/{bravo.profile.pk}/notes"), api_not_found, READ_PROFILES
    ),
    ("profiles/<int:profile_id>/notes", "POST"): Entry(
        api_call("POST", "profiles/{bravo.profile.pk}/notes", {"body": "Mallory"}), api_not_found, WRITE_PROFILES
    ),
    ("profiles/<int:profile_id>/notes/<int:note_id>", "PATCH"): Entry(
        api_call("PATCH", "profiles/{bravo.profile.pk}/notes/{bravo.note.pk}", {"body": "Mallory"}),
        api_not_found,
        WRITE_PROFILES,
    ),
    ("profiles/<int:profile_id>/notes/<int:note_id>", "DELETE"): Entry(
        api_call("DELETE", "profiles/{bravo.profile.pk}/notes/{bravo.note.pk}"), api_not_found, WRITE_PROFILES
    ),
    # crm: tags
    ("tags", "GET"): Entry(api_call("GET", "tags"), empty_list, READ_PROFILES),
    ("tags/add", "POST"): Entry(
        api_call("POST", "tags/add", lambda b: {"tag": "Night owls", "profile_ids": [b.profile.pk]}),
        nothing_changed_count,
        WRITE_PROFILES,
    ),
    ("tags/remove", "POST"): Entry(
        api_call("POST", "tags/remove", lambda b: {"tag": "Night owls", "profile_ids": [b.profile.pk]}),
        nothing_changed_count,
        WRITE_PROFILES,
    ),
    # crm: merges
    ("merges", "POST"): Entry(
        api_call(
            "POST", "merges", lambda b: {"profile_ids": [b.suggestion.profile_a_id, b.suggestion.profile_b_id]}
        ),
        api_not_found,
        MERGES,
    ),
    ("merges/<int:merge_id>/undo", "POST"): Entry(
        api_call("POST", "merges/{bravo.merge.pk}/undo"), api_not_found, MERGES
    ),
    ("merge-suggestions", "GET"): Entry(api_call("GET", "merge-suggestions"), empty_list, MERGES),
    ("merge-suggestions/<int:suggestion_id>/accept", "POST"): Entry(
        api_call("POST", "merge-suggestions/{bravo.suggestion.pk}/accept"), api_not_found, MERGES
    ),
    ("merge-suggestions/<int:suggestion_id>/reject", "POST"): Entry(
        api_call("POST", "merge-suggestions/{bravo.suggestion.pk}/reject"), api_not_found, MERGES
    ),
    # marketing: segments
    ("segments", "GET"): Entry(api_call("GET", "segments"), empty_list, READ_SEGMENTS),
    ("segments", "POST"): Entry(
        api_call("POST", "segments", lambda b: {"name": "Borrowed", "rule": {"segment": b.segment.pk}}),
        invalid_rule,
        WRITE_SEGMENTS,
    ),
    ("segments/preview", "POST"): Entry(
        api_call("POST", "segments/preview", {"rule": GOLD}), counts_nobody, READ_SEGMENTS
    ),
    ("segments/build-from-text", "POST"): Entry(
        api_call("POST", "segments/build-from-text", {"text": "gold members"}), counts_nobody, WRITE_SEGMENTS
    ),
    ("segments/schema", "GET"): Entry(api_call("GET", "segments/schema"), page_shown, READ_SEGMENTS),
    ("segments/<int:segment_id>", "GET"): Entry(
        api_call("GET", "segments/{bravo.segment.pk}"), api_not_found, READ_SEGMENTS
    ),
    ("segments/<int:segment_id>", "PATCH"): Entry(
        api_call("PATCH", "segments/{bravo.segment.pk}", {"name": "Mallory"}), api_not_found, WRITE_SEGMENTS
    ),
    ("segments/<int:segment_id>", "DELETE"): Entry(
        api_call("DELETE", "segments/{bravo.segment.pk}"), api_not_found, WRITE_SEGMENTS
    ),
    ("segments/<int:segment_id>/refresh", "POST"): Entry(
        api_call("POST", "segments/{bravo.segment.pk}/refresh"), api_not_found, WRITE_SEGMENTS
    ),
    ("segments/<int:segment_id>/members", "GET"): Entry(
        api_call("GET", "segments/{bravo.segment.pk}/members"), api_not_found, READ_SEGMENTS
    ),
    ("segments/<int:segment_id>/members/add", "POST"): Entry(
        api_call(
            "POST",
            "segments/{bravo.hand_picked.pk}/members/add",
            lambda b: {"profile_ids": [b.suggestion.profile_a_id]},  # not a member yet
        ),
        api_not_found,
        WRITE_SEGMENTS,
    ),
    ("segments/<int:segment_id>/members/remove", "POST"): Entry(
        api_call("POST", "segments/{bravo.hand_picked.pk}/members/remove", lambda b: {"profile_ids": [b.profile.pk]}),
        api_not_found,
        WRITE_SEGMENTS,
    ),
}


def graphql(query: str, **variables) -> Callable:
    def call(client, bravo):
        values = {name: value(bravo) if callable(value) else value for name, value in variables.items()}
        return client.post("/graphql/", data=json.dumps({"query": query, "variables": values}), **JSON)

    return call


GRAPHQL_MATRIX: dict[tuple[str, str], Entry] = {
    ("Query", "me"): Entry(
        graphql("{ me { club { slug } } }"), graph_data("me", {"club": {"slug": "alpha"}}), READ_PROFILES
    ),
    ("Query", "profile"): Entry(
        graphql("query($id: ID!) { profile(id: $id) { id notes(first: 5) { body } } }", id=lambda b: b.profile.pk),
        graph_data("profile", None),
        READ_PROFILES,
    ),
    ("Query", "profiles"): Entry(
        graphql("{ profiles(first: 50) { edges { node { id lastName } } } }"),
        graph_data("profiles", {"edges": []}),
        READ_PROFILES,
    ),
    ("Query", "segments"): Entry(graphql("{ segments { id name } }"), graph_data("segments", []), READ_SEGMENTS),
    ("Query", "segment"): Entry(
        graphql("query($id: ID!) { segment(id: $id) { id name } }", id=lambda b: b.segment.pk),
        graph_data("segment", None),
        READ_SEGMENTS,
    ),
    ("Mutation", "addNote"): Entry(
        graphql(
            "mutation($id: ID!) { addNote(profileId: $id, body: \"Mallory\") { note { id } } }",
            id=lambda b: b.profile.pk,
        ),
        graph_not_found,
        WRITE_PROFILES,
    ),
    ("Mutation", "editNote"): Entry(
        graphql("mutation($id: ID!) { editNote(id: $id, body: \"Mallory\") { note { id } } }", id=lambda b: b.note.pk),
        graph_not_found,
        WRITE_PROFILES,
    ),
    ("Mutation", "deleteNote"): Entry(
        graphql("mutation($id: ID!) { deleteNote(id: $id) { deletedId } }", id=lambda b: b.note.pk),
        graph_not_found,
        WRITE_PROFILES,
    ),
    ("Mutation", "tagProfiles"): Entry(
        graphql(
            "mutation($ids: [ID!]!) { tagProfiles(tag: \"Night owls\", profileIds: $ids) { changed } }",
            ids=lambda b: [b.profile.pk],
        ),
        graph_data("tagProfiles", {"changed": 0}),
        WRITE_PROFILES,
    ),
    ("Mutation", "untagProfiles"): Entry(
        graphql(
            "mutation($ids: [ID!]!) { untagProfiles(tag: \"Night owls\", profileIds: $ids) { changed } }",
            ids=lambda b: [b.profile.pk],
        ),
        graph_data("untagProfiles", {"changed": 0}),
        WRITE_PROFILES,
    ),
}


def page_get(path: str) -> Callable:
    return lambda client, bravo: client.get(path.format(bravo=bravo))


def page_post(path: str, **data) -> Callable:
    return lambda client, bravo: client.post(path.format(bravo=bravo), {k: v(bravo) for k, v in data.items()})


def builder_post(path: str) -> Callable:
    """The builder with an "in segment" condition naming club B's segment and a tag condition: its
    segment and tag choices, explanation and preview must come from club A alone."""
    return page_post(
        path,
        **{
            "n": lambda b: ["r", "r.0", "r.1"],
            "r-kind": lambda b: "group",
            "r-combinator": lambda b: "any",
            "r.0-kind": lambda b: "segment",
            "r.0-segment": lambda b: b.segment.pk,
            "r.1-kind": lambda b: "tag",
            "r.1-tag": lambda b: "",  # left empty, so the tag choices are offered
        },
    )


def saved_nothing_naming_club_b(response, bravo) -> None:
    """A new segment whose rule names club B's segment is refused, and no segment is saved."""
    assert response.status_code == 400, body_text(response)
    refusal = response.context["error"]  # refused for naming club B's segment, as if it didn't exist
    assert refusal.code == "invalid_rule" and refusal.details["errors"][0]["path"].endswith(".segment")
    assert not Segment.objects.unscoped_across_clubs().exclude(club=bravo.club).exists()


def stays_in_own_club(response, bravo) -> None:
    """Switching into a club without a role there leaves the staff member in their own club."""
    assert response.status_code == 302, body_text(response)
    assert response.client.get("/").context["current_club"].slug == "alpha"


def counts_own_profiles(response, bravo) -> None:
    assert response.status_code == 200, body_text(response)
    assert response.context["counts"].total == 1  # Alice, of club A


def from_text_counts_nobody(response, bravo) -> None:
    assert response.status_code == 200, body_text(response)
    assert response.context["preview"]["count"] == 0


PAGE_MATRIX: dict[tuple[str, str], Entry] = {
    ("", "GET"): Entry(page_get("/"), page_shown),
    ("dashboard/counts/", "GET"): Entry(page_get("/dashboard/counts/"), counts_own_profiles),
    ("club/switch/", "POST"): Entry(page_post("/club/switch/", club=lambda b: b.club.pk), stays_in_own_club),
    ("profiles/", "GET"): Entry(page_get("/profiles/"), page_shown),
    ("profiles/export.csv", "GET"): Entry(page_get("/profiles/export.csv"), page_shown),
    ("profiles/<int:profile_id>/", "GET"): Entry(page_get("/profiles/{bravo.profile.pk}/"), not_found),
    ("campaigns/", "GET"): Entry(page_get("/campaigns/"), page_shown),
    ("social/", "GET"): Entry(page_get("/social/"), page_shown),
    ("intelligence/", "GET"): Entry(page_get("/intelligence/"), page_shown),
    ("segments/", "GET"): Entry(page_get("/segments/"), page_shown),
    ("segments/new/", "GET"): Entry(page_get("/segments/new/"), page_shown),
    ("segments/new/", "POST"): Entry(
        page_post(
            "/segments/new/",
            name=lambda b: "Mallory",
            n=lambda b: ["r", "r.0"],
            **{"r-kind": lambda b: "group", "r-combinator": lambda b: "all"},
            **{"r.0-kind": lambda b: "segment", "r.0-segment": lambda b: b.segment.pk},
        ),
        saved_nothing_naming_club_b,
    ),
    ("segments/from-text/", "POST"): Entry(
        page_post("/segments/from-text/", text=lambda b: "gold members"), from_text_counts_nobody
    ),
    ("segments/builder/edit/", "POST"): Entry(builder_post("/segments/builder/edit/"), page_shown),
    ("segments/builder/preview/", "POST"): Entry(builder_post("/segments/builder/preview/"), page_shown),
    ("segments/<int:segment_id>/", "GET"): Entry(page_get("/segments/{bravo.segment.pk}/"), not_found),
    ("segments/<int:segment_id>/", "POST"): Entry(
        page_post("/segments/{bravo.segment.pk}/", name=lambda b: "Mallory"), not_found
    ),
    ("segments/<int:segment_id>/refresh/", "POST"): Entry(
        page_post("/segments/{bravo.segment.pk}/refresh/"), not_found
    ),
    ("segments/<int:segment_id>/sync/", "POST"): Entry(page_post("/segments/{bravo.segment.pk}/sync/"), not_found),
    ("segments/<int:segment_id>/delete/", "POST"): Entry(
        page_post("/segments/{bravo.segment.pk}/delete/"), not_found
    ),
    ("segments/<int:segment_id>/members/", "GET"): Entry(
        page_get("/segments/{bravo.hand_picked.pk}/members/"), not_found
    ),
    ("segments/<int:segment_id>/members/change/", "POST"): Entry(
        page_post("/segments/{bravo.hand_picked.pk}/members/change/", profile_id=lambda b: b.suggestion.profile_a_id),
        not_found,
    ),
    ("segments/<int:segment_id>/members/search/", "GET"): Entry(
        page_get("/segments/{bravo.hand_picked.pk}/members/search/?q=Bertie"), not_found
    ),
    ("segments/<int:segment_id>/export.csv", "GET"): Entry(
        page_get("/segments/{bravo.segment.pk}/export.csv"), not_found
    ),
}


# --- Discovery ----------------------------------------------------------------------------------


def resolved_routes(patterns=None, prefix: str = ""):
    """(route, view callback) of every URL the project resolves, includes expanded."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from resolved_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def discovered_api_endpoints() -> set[tuple[str, str]]:
    """(route under /api/v1/, HTTP method) for each method the endpoint's view answers."""
    endpoints = set()
    for route, callback in resolved_routes():
        if route.startswith(API_PREFIX):
            view = callback.view_class
            for method in view.http_method_names:
                if method not in ("head", "options") and hasattr(view, method):
                    endpoints.add((route.removeprefix(API_PREFIX), method.upper()))
    return endpoints


def discovered_pages() -> set[str]:
    return {route for route, _ in resolved_routes() if not route.startswith(NOT_PAGES)}


def discovered_graphql_root_fields() -> set[tuple[str, str]]:
    graphql_schema = schema.graphql_schema
    return {
        (root.name, field)
        for root in (graphql_schema.query_type, graphql_schema.mutation_type)
        for field in root.fields
    }


def test_every_api_endpoint_has_an_entry():
    assert discovered_api_endpoints() == set(API_MATRIX)


def test_every_graphql_root_field_has_an_entry():
    assert discovered_graphql_root_fields() == set(GRAPHQL_MATRIX)


def test_every_marketer_page_has_an_entry():
    assert discovered_pages() == {route for route, _ in PAGE_MATRIX}


# --- The matrix ---------------------------------------------------------------------------------


@pytest.fixture
def offline_builder(settings):
    """Build-from-text uses the offline parser: no model is reachable."""
    settings.ANTHROPIC_API_KEY = ""
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"


def assert_isolated(entry: Entry, client: Client, bravo) -> None:
    before = club_rows(bravo.club)
    response = entry.call(client, bravo)
    entry.then(response, bravo)
    text = body_text(response)
    assert not [marker for marker in BRAVO_MARKERS if marker in text], text
    assert club_rows(bravo.club) == before


@pytest.mark.parametrize("endpoint", sorted(API_MATRIX), ids="{0[1]} {0[0]}".format)
def test_another_clubs_key_gets_nothing_from_the_api(endpoint, club_a, bravo, offline_builder):
    entry = API_MATRIX[endpoint]
    assert_isolated(entry, api_for(club_a, *entry.scopes), bravo)


@pytest.mark.parametrize("root_field", sorted(GRAPHQL_MATRIX), ids="{0[0]}.{0[1]}".format)
def test_another_clubs_key_gets_nothing_from_graphql(root_field, club_a, bravo):
    entry = GRAPHQL_MATRIX[root_field]
    assert_isolated(entry, api_for(club_a, *entry.scopes), bravo)


@pytest.mark.parametrize("page", sorted(PAGE_MATRIX), ids="{0[1]} /{0[0]}".format)
def test_another_clubs_staff_get_nothing_from_the_pages(page, club_a, bravo, client_for, offline_builder):
    ProfileFactory(club=club_a, first_name="Alice", membership_tier="Silver")  # lists have a row of their own
    assert_isolated(PAGE_MATRIX[page], client_for(club_a, Role.ADMIN), bravo)
