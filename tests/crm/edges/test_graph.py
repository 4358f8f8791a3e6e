"""The edge kit's GraphQL endpoint serves whatever schema settings.GRAPHENE["SCHEMA"] names, so it
sits below every app: any app's schema gets the same doors, depth limit and error translation."""

import json

import graphene
from django.test import override_settings

from crm.errors import CrmError, CrmErrorCode
from tests.factories.api import api_for


class TinyQuery(graphene.ObjectType):
    club_slug = graphene.String(required=True)
    refused = graphene.String()

    def resolve_club_slug(root, info):
        return info.context.club.slug

    def resolve_refused(root, info):
        raise CrmError(CrmErrorCode.NOT_PERMITTED, "Not for you.")


tiny_schema = graphene.Schema(query=TinyQuery)
SERVING_THE_TINY_SCHEMA = override_settings(GRAPHENE={"SCHEMA": f"{__name__}.tiny_schema"})


def post(client, query: str):
    response = client.post("/graphql/", data=json.dumps({"query": query}), content_type="application/json")
    return response.status_code, response.json()


@SERVING_THE_TINY_SCHEMA
def test_the_endpoint_serves_the_schema_the_setting_names_with_the_callers_club(club_a):
    assert post(api_for(club_a, "profiles:read"), "{ clubSlug }") == (200, {"data": {"clubSlug": club_a.slug}})


@SERVING_THE_TINY_SCHEMA
def test_the_sdl_is_the_schema_the_setting_names(client):
    response = client.get("/api/schema/graphql")
    assert response.status_code == 200
    assert response.content.decode() == str(tiny_schema)


@SERVING_THE_TINY_SCHEMA
def test_a_domain_error_from_any_schemas_resolver_becomes_its_code(club_a):
    status, body = post(api_for(club_a, "profiles:read"), "{ refused }")
    assert status == 200
    assert [(error["message"], error["extensions"]["code"]) for error in body["errors"]] == [
        ("Not for you.", "not_permitted")
    ]


@SERVING_THE_TINY_SCHEMA
def test_fields_the_named_schema_lacks_are_refused_before_anything_runs(club_a):
    status, body = post(api_for(club_a, "profiles:read"), "{ profiles { edges { cursor } } }")
    assert status == 400
    assert [error["extensions"]["code"] for error in body["errors"]] == ["invalid_query"]
