"""What `make run` does before serving, on a brand-new SQLite file; and production's deploy checks."""

import sqlite3

from tests.platform.processes import child_environment, manage


def test_make_run_setup_works_on_a_fresh_sqlite_database(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    env = child_environment(
        DATABASE_URL=f"sqlite:///{database}", REDIS_URL="", CELERY_BROKER_FOLDER=tmp_path / "broker"
    )
    for command in (["migrate", "--noinput"], ["sync_schedules"], ["seed_demo", "--profiles", "40"], ["setup_demo"]):
        result = manage(*command, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
    assert "admin@demo.fairway.test" in result.stdout and "Password:" in result.stdout
    password = result.stdout.split("Password:")[1].split()[0]
    # Re-running (a second `make run`) is safe and issues a new password.
    again = manage("setup_demo", env=env)
    assert again.returncode == 0 and password not in again.stdout
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT slug, timezone FROM crm_club").fetchall() == [("demo", "Africa/Johannesburg")]
        assert db.execute("SELECT role FROM crm_clubmembership").fetchall() == [("owner",)]
        assert db.execute("SELECT count(*) FROM django_celery_beat_periodictask").fetchone()[0] >= 2
        # The demo people arrived as signed events through the endpoint and were processed.
        transports = db.execute("SELECT DISTINCT transport, status FROM crm_inboundevent").fetchall()
        assert transports == [("http", "processed")]
        people, rounds = db.execute("SELECT count(*), sum(rounds_played) FROM crm_customerprofile").fetchone()
        assert 35 <= people <= 45 and rounds > 0
        events = db.execute("SELECT count(*) FROM crm_inboundevent").fetchone()[0]
        assert db.execute("SELECT count(*) FROM crm_activity").fetchone()[0] >= events - 10  # tournaments: no person
    segments = manage("setup_demo_segments", env=env)
    assert segments.returncode == 0 and "5 demo segment(s) created" in segments.stdout, segments.stderr[-3000:]
    assert "0 demo segment(s) created" in manage("setup_demo_segments", env=env).stdout
    with sqlite3.connect(database) as db:
        counts = dict(db.execute("SELECT name, member_count FROM marketing_segment").fetchall())
        assert counts["Keen full members"] > 0 and counts["Keen full members"] < people
    # Seeding again stores nothing new: the events have fixed ids, so they are duplicates.
    reseeded = manage("seed_demo", "--profiles", "40", env=env)
    assert reseeded.returncode == 0 and " 0 new events" in reseeded.stdout


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = child_environment(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="x7!k2@p9#m4$q8%w3^e6&r1*t5(y0)u-i_o=p+a[s]d{f}g|h;j:k,l.z/x",
        DJANGO_ALLOWED_HOSTS="crm.example-club.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    )
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
