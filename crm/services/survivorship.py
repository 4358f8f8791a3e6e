"""Which value wins when sources disagree (SPEC 4).

Contact fields: staff edit > SCL > TeeTime > Messaging > backfill; within one source the newest
`occurred_at` wins, so a late-arriving old event never overwrites newer data. Every field a
source sets is stamped in `profile.field_sources` with that source and time.
"""

from datetime import UTC, datetime

SOURCE_RANK = {"staff": 50, "scl": 40, "teetime": 30, "messaging": 20, "backfill": 10}


def stamp(at: datetime) -> str:
    """A fixed-width UTC timestamp: stamps compare correctly as strings."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def may_overwrite(current: dict | None, *, source: str, at: datetime) -> bool:
    if not current:
        return True
    rank, current_rank = SOURCE_RANK.get(source, 0), SOURCE_RANK.get(current.get("source"), 0)
    if rank != current_rank:
        return rank > current_rank
    return stamp(at) >= current.get("at", "")


class ProfileDraft:
    """A profile being changed by a batch of events; remembers which columns changed."""

    def __init__(self, profile):
        self.profile = profile
        self.sources = dict(profile.field_sources or {})
        self.changed: set[str] = set()

    def offer(self, name: str, value, *, source: str, at: datetime) -> bool:
        """Set `name` to `value` if survivorship allows; empty values never erase anything."""
        if value is None or value == "":
            return False
        if not may_overwrite(self.sources.get(name), source=source, at=at):
            return False
        if getattr(self.profile, name) != value:
            setattr(self.profile, name, value)
            self.changed.add(name)
        self.sources[name] = {"source": source, "at": stamp(at)}
        self.changed.add("field_sources")
        return True

    def offer_many(self, values: dict, *, source: str, at: datetime) -> None:
        for name, value in values.items():
            self.offer(name, value, source=source, at=at)

    def increment(self, name: str, by: int = 1) -> None:
        setattr(self.profile, name, (getattr(self.profile, name) or 0) + by)
        self.changed.add(name)

    def keep_latest(self, name: str, value: datetime) -> None:
        current = getattr(self.profile, name)
        if current is None or value > current:
            setattr(self.profile, name, value)
            self.changed.add(name)

    def finish(self) -> list[str]:
        if "field_sources" in self.changed:
            self.profile.field_sources = self.sources
        if {"first_name", "last_name"} & self.changed and self.profile.refresh_name_key():
            self.changed.add("name_key")
        return sorted(self.changed)
