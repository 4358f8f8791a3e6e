"""API keys and clients for API tests."""

from django.test import Client

from crm.kernel.actor import Actor
from crm.services.api_keys import api_key_create


def key_for(club, *scopes, **options) -> str:
    """A new key's value for the club (default scope profiles:read)."""
    scopes = scopes or ["profiles:read"]
    _, value = api_key_create(club=club, actor=Actor.system(), name="test", scopes=scopes, **options)
    return value


def api(value: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Api-Key {value}")


def api_for(club, *scopes, **options) -> Client:
    """A client holding a new key of the club with these scopes."""
    return api(key_for(club, *scopes, **options))
