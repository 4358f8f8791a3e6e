from django.db import models


class SchedulerHeartbeat(models.Model):
    """Written by the beat-scheduled heartbeat task: proof that scheduled work is running."""

    name = models.CharField(max_length=100, unique=True)
    last_run_at = models.DateTimeField()
    run_count = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.name} @ {self.last_run_at:%Y-%m-%d %H:%M:%S}"
