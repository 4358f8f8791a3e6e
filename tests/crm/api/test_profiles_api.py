"""REST profiles: API keys and sessions, scopes, club isolation, errors, paging, throttling."""

from datetime import timedelta

import pytest
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from crm.kernel.actor import Actor
from crm.models import ApiKey, AuditLog, CustomerProfile, Role
from crm.services.api_keys import api_key_revoke
from tests.conftest import staff_in
from tests.factories import ActivityFactory, ProfileFactory
from tests.factories.api import api, key_for


def test_a_key_reads_its_clubs_profiles(club_a, profile_a):
    response = api(key_for(club_a)).get("/api/v1/profiles")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [profile_a.pk]
    detail = api(key_for(club_a)).get(f"/api/v1/profiles/{profile_a.pk}").json()
    assert detail["primary_email"] == "alice@alpha.test" and "identifiers" in detail


def test_missing_wrong_revoked_and_expired_keys_are_refused(club_a, profile_a):
    assert Client().get("/api/v1/profiles").status_code in (401, 403)
    assert api("fw_nope_nope").get("/api/v1/profiles").status_code == 401
    value = key_for(club_a)
    key = ApiKey.objects.for_club(club_a).get()
    api_key_revoke(club=club_a, key=key, actor=Actor.system())
    assert api(value).get("/api/v1/profiles").status_code == 401
    expired = key_for(club_a, expires_at=timezone.now() - timedelta(minutes=1))
    response = api(expired).get("/api/v1/profiles")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Api-Key"


def test_a_read_only_key_cannot_write(club_a, profile_a):
    response = api(key_for(club_a, "profiles:read")).patch(
        f"/api/v1/profiles/{profile_a.pk}", {"first_name": "Al"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "profiles:write" in response.json()["error"]["message"]
    profile_a.refresh_from_db()
    assert profile_a.first_name == "Alice"


def test_a_write_key_edits_staff_fields_with_survivorship_and_audit(club_a, profile_a):
    response = api(key_for(club_a, "profiles:read", "profiles:write")).patch(
        f"/api/v1/profiles/{profile_a.pk}",
        {"first_name": "Alicia", "primary_phone": "082 555 0101"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["primary_phone"] == "+27825550101"
    profile_a.refresh_from_db()
    assert profile_a.field_sources["first_name"]["source"] == "staff"
    assert AuditLog.objects.for_club(club_a).filter(action="profile.update").exists()


def test_a_key_write_is_audited_with_the_key_and_the_address_it_came_from(club_a, profile_a):
    value = key_for(club_a, "profiles:read", "profiles:write")
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {value}", REMOTE_ADDR="203.0.113.7")

    response = client.patch(
        f"/api/v1/profiles/{profile_a.pk}", {"first_name": "Alicia"}, content_type="application/json"
    )

    assert response.status_code == 200, response.json()
    row = AuditLog.objects.for_club(club_a).get(action="profile.update")
    assert (row.api_key, row.actor, row.ip_address) == (ApiKey.objects.for_club(club_a).get(), None, "203.0.113.7")


def test_a_staff_session_write_is_audited_with_the_person_and_no_key(client, club_a, profile_a):
    marketer = staff_in(club_a, Role.MARKETER)
    client.force_login(marketer)

    response = client.patch(
        f"/api/v1/profiles/{profile_a.pk}", {"first_name": "Alicia"}, content_type="application/json",
        REMOTE_ADDR="198.51.100.4",
    )

    assert response.status_code == 200, response.json()
    row = AuditLog.objects.for_club(club_a).get(action="profile.update")
    assert (row.actor, row.api_key, row.ip_address) == (marketer, None, "198.51.100.4")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"membership_status": "active"}, "membership_status"),  # belongs to SCL
        ({"primary_email": "not an email"}, None),
        ({"date_of_birth": "yesterday"}, "date_of_birth"),
    ],
)
def test_invalid_edits_get_one_error_shape_and_change_nothing(club_a, profile_a, payload, field):
    response = api(key_for(club_a, "profiles:read", "profiles:write")).patch(
        f"/api/v1/profiles/{profile_a.pk}", payload, content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    if field:
        assert field in error["details"]["fields"]
    before = profile_a.updated_at
    profile_a.refresh_from_db()
    assert profile_a.updated_at == before


def test_staff_sessions_use_their_role_and_csrf(client, club_a, profile_a):
    viewer = staff_in(club_a, Role.VIEWER)
    client.force_login(viewer)
    assert client.get("/api/v1/me").json()["scopes"] == ["profiles:read", "segments:read"]
    assert (
        client.patch(
            f"/api/v1/profiles/{profile_a.pk}", {"first_name": "X"}, content_type="application/json"
        ).status_code
        == 403
    )
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(staff_in(club_a, Role.MARKETER))
    response = checked.patch(f"/api/v1/profiles/{profile_a.pk}", {"first_name": "X"}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]["message"]


def test_cursor_pages_cover_every_profile_once(club_a):
    ProfileFactory.create_batch(23, club=club_a)
    client, seen, url = api(key_for(club_a)), [], "/api/v1/profiles?page_size=10&ordering=last_name"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 23


def test_unknown_ordering_is_a_clear_error(club_a):
    response = api(key_for(club_a)).get("/api/v1/profiles?ordering=password")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_ordering"


def test_timeline_pages_newest_first_and_filters(club_a, profile_a):
    ActivityFactory.create_batch(5, profile=profile_a, source="teetime")
    ActivityFactory.create_batch(2, profile=profile_a, source="scl", type="payment.received")
    client = api(key_for(club_a))
    first = client.get(f"/api/v1/profiles/{profile_a.pk}/timeline?limit=4").json()
    second = client.get(f"/api/v1/profiles/{profile_a.pk}/timeline?limit=4&cursor={first['next_cursor']}").json()
    assert len(first["results"]) == 4 and len(second["results"]) == 3 and second["next_cursor"] is None
    scl = client.get(f"/api/v1/profiles/{profile_a.pk}/timeline?source=scl").json()["results"]
    assert {row["type"] for row in scl} == {"payment.received"}
    bad = client.get(f"/api/v1/profiles/{profile_a.pk}/timeline?cursor=garbage")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_parameter"


def test_list_reads_take_a_fixed_number_of_queries(club_a, django_assert_max_num_queries):
    ProfileFactory.create_batch(30, club=club_a)
    client = api(key_for(club_a))
    with django_assert_max_num_queries(6):  # key, last-used update, page, tags prefetch (+ savepoints)
        assert len(client.get("/api/v1/profiles").json()["results"]) == 30


@override_settings(API_THROTTLE_RATES={"key": "3/min", "club": "1000/min"})
def test_a_key_over_its_rate_gets_429_with_retry_after(club_a):
    from django.core.cache import cache

    cache.clear()
    client = api(key_for(club_a))
    statuses = [client.get("/api/v1/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/me")
    assert int(response["Retry-After"]) > 0 and response.json()["error"]["code"] == "throttled"
    assert CustomerProfile.objects.for_club(club_a).count() == 0


def test_keys_are_made_and_revoked_in_the_admin_shown_once_and_stored_hashed(client_for, club_a, club_b, profile_a):
    import re

    admin_client = client_for(club_a, Role.ADMIN)
    response = admin_client.post(
        "/admin/crm/apikey/add/", {"name": "Club app", "scopes": ["profiles:read"]}, follow=True
    )
    value = re.search(r"will not be shown again: (fw_[A-Za-z0-9_-]+)", response.content.decode()).group(1)
    key = ApiKey.objects.for_club(club_a).get()
    secret = value.split("_", 2)[2]  # fw_<prefix>_<secret>; the secret itself may hold "_"
    assert secret not in key.hashed_key and value.startswith(f"fw_{key.prefix}_")
    assert value not in admin_client.get(f"/admin/crm/apikey/{key.pk}/change/").content.decode()
    assert api(value).get(f"/api/v1/profiles/{profile_a.pk}").status_code == 200
    # Another club's admin can't revoke it; this club's can.
    other = Client()
    other.force_login(staff_in(club_b, Role.ADMIN))
    other.post("/admin/crm/apikey/", {"action": "revoke_selected", "_selected_action": [key.pk]})
    assert api(value).get("/api/v1/me").status_code == 200
    admin_client.post("/admin/crm/apikey/", {"action": "revoke_selected", "_selected_action": [key.pk]})
    assert api(value).get("/api/v1/me").status_code == 401


@override_settings(API_THROTTLE_RATES={"key": "1000/min", "club": "4/min"})
def test_a_club_over_its_rate_is_throttled_across_keys_but_other_clubs_are_not(club_a, club_b):
    from django.core.cache import cache

    cache.clear()
    first, second = api(key_for(club_a)), api(key_for(club_a))
    statuses = [client.get("/api/v1/me").status_code for client in (first, second, first, second, first)]
    assert statuses == [200, 200, 200, 200, 429]
    assert api(key_for(club_b)).get("/api/v1/me").status_code == 200


def test_updated_since_lists_only_changed_profiles_and_rejects_a_bad_date(club_a, profile_a):
    three_days_ago = timezone.now() - timedelta(days=3)
    CustomerProfile.objects.for_club(club_a).filter(pk=profile_a.pk).update(updated_at=three_days_ago)
    fresh = ProfileFactory(club=club_a)
    client = api(key_for(club_a))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert [row["id"] for row in client.get("/api/v1/profiles", {"updated_since": since}).json()["results"]] == [
        fresh.pk
    ]
    response = client.get("/api/v1/profiles", {"updated_since": "last tuesday"})
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]["fields"]) == ["updated_since"]


def test_detail_and_timeline_reads_cost_the_same_however_much_a_profile_has(club_a, profile_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import IdentifierFactory

    busy = ProfileFactory(club=club_a)
    for number in range(8):
        IdentifierFactory(profile=busy, kind="email", value=f"busy{number}@alpha.test")
    ActivityFactory.create_batch(60, profile=busy)
    ActivityFactory(profile=profile_a)
    client = api(key_for(club_a))
    client.get("/api/v1/me")  # stamps the key's last use, which later reads skip

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    for url in ("/api/v1/profiles/{}", "/api/v1/profiles/{}/timeline"):
        assert queries(url.format(busy.pk)) == queries(url.format(profile_a.pk)) <= 4, url


def test_timeline_pages_keep_entries_that_share_a_timestamp(club_a, profile_a):
    at = timezone.now() - timedelta(days=2)
    same = {ActivityFactory(profile=profile_a, occurred_at=at).pk for _ in range(5)}
    client, seen, cursor = api(key_for(club_a)), [], ""
    while True:
        page = client.get(f"/api/v1/profiles/{profile_a.pk}/timeline", {"limit": 2, "cursor": cursor}).json()
        seen += [row["id"] for row in page["results"]]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(same) and len(seen) == 5


@override_settings(API_THROTTLE_RATES={"key": "2/s", "club": "1000/min"})
def test_a_throttled_key_is_let_in_again_when_its_window_ends(club_a):
    import time

    from django.core.cache import cache

    cache.clear()
    client = api(key_for(club_a))
    assert [client.get("/api/v1/me").status_code for _ in range(3)] == [200, 200, 429]
    refused = client.get("/api/v1/me")
    assert refused.status_code == 429 and 0 <= float(refused["Retry-After"]) <= 1
    time.sleep(1.1)
    assert client.get("/api/v1/me").status_code == 200


def test_timeline_pages_render_value_rows_exactly_as_the_model_serializer_would(club_a, profile_a):
    from decimal import Decimal

    from crm.api.profiles import ActivitySerializer
    from crm.models import Activity

    ActivityFactory(profile=profile_a, amount=Decimal("1250.5"), properties={"course": "North", "holes": 18})
    ActivityFactory(profile=profile_a, summary="Opened ‘Spring Open’", properties={})
    served = api(key_for(club_a)).get(f"/api/v1/profiles/{profile_a.pk}/timeline").json()["results"]
    models = Activity.objects.for_club(club_a).filter(profile=profile_a).order_by("-occurred_at", "-id")
    assert served == [dict(row) for row in ActivitySerializer(models, many=True).data]
    assert served[1]["amount"] == "1250.50"


def test_a_bad_timeline_date_is_a_400_naming_the_parameter(club_a, profile_a):
    response = api(key_for(club_a)).get(f"/api/v1/profiles/{profile_a.pk}/timeline", {"until": "next week"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert list(response.json()["error"]["details"]["fields"]) == ["until"]


def test_a_timeline_limit_outside_its_range_is_refused_by_name(club_a, profile_a):
    client = api(key_for(club_a))
    for bad in ("0", "201", "lots"):
        response = client.get(f"/api/v1/profiles/{profile_a.pk}/timeline", {"limit": bad})
        assert response.status_code == 400 and "limit" in response.json()["error"]["details"]["fields"], bad
