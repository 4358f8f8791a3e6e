"""The health probe reports when the scheduler last beat."""


def test_healthz_reports_scheduler_heartbeat(client, db):
    from crm.tasks import record_scheduler_heartbeat

    assert client.get("/healthz").json()["scheduler_last_heartbeat"] is None
    record_scheduler_heartbeat()
    assert client.get("/healthz").json()["scheduler_last_heartbeat"] is not None
