import os
import signal
import socket

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from crm.events.stream import stream_consume_once, stream_group_ensure


class Command(BaseCommand):
    help = "Read events from the Redis stream (consumer group), store them, ack after storing."

    def add_arguments(self, parser):
        parser.add_argument("--stream", default=settings.EVENTS_STREAM)
        parser.add_argument("--group", default=settings.EVENTS_STREAM_GROUP)
        parser.add_argument("--consumer", default=f"{socket.gethostname()}-{os.getpid()}")
        parser.add_argument("--count", type=int, default=500, help="Entries per read.")
        parser.add_argument("--block-ms", type=int, default=2000)
        parser.add_argument(
            "--reclaim-idle-ms",
            type=int,
            default=60_000,
            help="Take over entries another consumer left unacked this long.",
        )
        parser.add_argument("--once", action="store_true", help="One read, then exit (for cron and tests).")

    def handle(self, *args, stream, group, consumer, count, block_ms, reclaim_idle_ms, once, **options):
        url = settings.REDIS_URL
        if not url:
            raise CommandError("REDIS_URL is not set: the stream transport needs Redis.")
        client = redis.Redis.from_url(url)
        stream_group_ensure(client, stream, group)
        stopping = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
        self.stdout.write(f"Consuming {stream} as {consumer} in group {group}")
        while not stopping["now"]:
            result = stream_consume_once(
                client=client,
                stream=stream,
                group=group,
                consumer=consumer,
                count=count,
                block_ms=block_ms,
                reclaim_idle_ms=reclaim_idle_ms,
            )
            if result.read:
                self.stdout.write(
                    f"read {result.read} (reclaimed {result.reclaimed}): stored {result.stored}, "
                    f"dead-lettered {result.dead_lettered}"
                )
            if once:
                break
