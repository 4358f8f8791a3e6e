"""docs/events.md is generated from the catalog in code and must match it."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.events import catalog
from crm.management.commands import events_catalog


def test_checked_in_docs_match_the_catalog():
    call_command("events_catalog", "--check")
    text = events_catalog.DOC_PATH.read_text()
    for event_type in catalog.CATALOG:
        assert f"`{event_type.name}`" in text


def test_a_catalog_change_makes_the_check_fail(monkeypatch):
    spec = catalog.CATALOG_BY_KEY[("scl", "member.created")]
    monkeypatch.setitem(spec.optional, "favourite_club", catalog.Field("string"))
    with pytest.raises(CommandError, match="stale"):
        call_command("events_catalog", "--check")
