"""The OpenAPI schema validates, documents every endpoint, and its UIs load without a CDN."""

from django.core.management import call_command


def test_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    text = (tmp_path / "schema.yaml").read_text()
    for path in ("/api/v1/events", "/api/v1/me", "/api/v1/profiles", "/api/v1/profiles/{profile_id}/timeline"):
        assert f"  {path}:" in text
    assert "ApiKey:" in text and "Error:" in text


def test_schema_and_its_uis_are_served_from_our_own_static_files(client):
    assert client.get("/api/schema/").status_code == 200
    for url in ("/api/schema/swagger/", "/api/schema/redoc/"):
        page = client.get(url).content.decode()
        assert "/static/drf_spectacular_sidecar/" in page
        assert "cdn.jsdelivr" not in page and "unpkg.com" not in page
