import os

from celery import Celery
from celery.signals import beat_embedded_init, beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("fairway")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
@beat_embedded_init.connect
def _upsert_schedules_when_beat_starts(**_kwargs):
    # Beat reads its schedule from the database; upserting here means a deploy that adds a job
    # never depends on someone remembering to run `manage.py sync_schedules`.
    from config.schedules import schedules_sync

    schedules_sync()
