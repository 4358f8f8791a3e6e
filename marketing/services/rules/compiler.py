"""From a validated rule tree to one query over the club's profiles (SPEC 8).

Field conditions become column comparisons; activity and tag conditions become correlated
`EXISTS` or count subqueries; nothing is filtered in Python. Relative dates ("in the last 30
days", "birthday in the next 7 days") are taken from today in the club's timezone, so a club in
London and one in Johannesburg each get their own midnight.
"""

import zoneinfo
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
from django.utils import timezone

from crm.models import Activity, ProfileTag
from crm.selectors import profile_active_queryset
from marketing.models import SegmentMember
from marketing.services.rules.fields import FIELDS
from marketing.services.rules.grammar import parse_date, rule_validate

COUNT_LOOKUPS = {
    "eq": Exact,
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
}


class InvalidRule(ValueError):
    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{error.path}: {error.message}" for error in errors))


def rule_queryset(*, club, rule, now: datetime | None = None):
    """The club's live profiles matching `rule` (raises InvalidRule with every problem)."""
    return profile_active_queryset(club=club).filter(rule_q(club=club, rule=rule, now=now))


def rule_q(*, club, rule, now: datetime | None = None) -> Q:
    errors = rule_validate(rule)
    if errors:
        raise InvalidRule(errors)
    return _Compiler(club, now or timezone.now()).node(rule)


class _Compiler:
    def __init__(self, club, now: datetime):
        self.club = club
        self.zone = zoneinfo.ZoneInfo(club.timezone)
        self.now = now
        self.today = now.astimezone(self.zone).date()

    def midnight(self, day: date) -> datetime:
        """The start of `day` in the club's timezone."""
        return datetime.combine(day, time.min, tzinfo=self.zone)

    def node(self, node) -> Q:
        if "all" in node:
            combined = Q()
            for child in node["all"]:
                combined &= self.node(child)
            return combined
        if "any" in node:
            combined = Q()
            for child in node["any"]:
                combined |= self.node(child)
            return combined
        if "not" in node:
            return ~self.node(node["not"])
        if "field" in node:
            return self.field(FIELDS[node["field"]], node["op"], node.get("value"))
        if "activity" in node:
            return self.activity(node["activity"])
        if "tag" in node:
            tagged = ProfileTag.objects.filter(
                club=self.club, profile=OuterRef("pk"), tag__name__iexact=" ".join(node["tag"].split())
            )
            return Q(Exists(tagged))
        if "segment" in node:
            members = SegmentMember.objects.filter(club=self.club, segment_id=node["segment"], profile=OuterRef("pk"))
            return Q(Exists(members))
        return self.birthday(node["birthday"]["within_next_days"])

    # --- Fields -----------------------------------------------------------------------------

    def field(self, field, op: str, value) -> Q:
        column = field.column
        if op in ("is_set", "is_not_set"):
            present = Q(**{f"{column}__isnull": False}) if field.nullable else ~Q(**{column: ""})
            return present if op == "is_set" else ~present
        if field.type == "datetime":
            return self.datetime_field(column, op, value)
        if field.type == "date":
            return self.date_field(column, op, value)
        if field.type == "text":
            text = {
                "eq": "iexact",
                "neq": "iexact",
                "contains": "icontains",
                "starts_with": "istartswith",
                "in": "in",
                "not_in": "in",
            }[op]
            condition = Q(**{f"{column}__{text}": value})
            return ~condition if op in ("neq", "not_in") else condition
        return self.comparison(column, op, value)

    @staticmethod
    def comparison(column: str, op: str, value) -> Q:
        if op == "between":
            low, high = sorted(value)
            return Q(**{f"{column}__gte": low, f"{column}__lte": high})
        lookup = {"eq": "exact", "neq": "exact", "in": "in", "not_in": "in"}.get(op, op)
        condition = Q(**{f"{column}__{lookup}": value})
        return ~condition if op in ("neq", "not_in") else condition

    def date_field(self, column: str, op: str, value) -> Q:
        if op == "within_last_days":
            return Q(**{f"{column}__gte": self.today - timedelta(days=value), f"{column}__lte": self.today})
        if op == "more_than_days_ago":
            return Q(**{f"{column}__lt": self.today - timedelta(days=value)})
        if op == "within_next_days":
            return Q(**{f"{column}__gte": self.today, f"{column}__lte": self.today + timedelta(days=value)})
        dates = [parse_date(item) for item in value] if isinstance(value, list) else parse_date(value)
        return self.comparison(column, op, dates)

    def datetime_field(self, column: str, op: str, value) -> Q:
        """Dates against timestamps: whole days in the club's timezone."""
        if op == "within_last_days":
            return Q(**{f"{column}__gte": self.midnight(self.today - timedelta(days=value))})
        if op == "more_than_days_ago":
            return Q(**{f"{column}__lt": self.midnight(self.today - timedelta(days=value))})
        if op == "within_next_days":
            return Q(
                **{f"{column}__gte": self.now, f"{column}__lt": self.midnight(self.today + timedelta(days=value + 1))}
            )
        if op == "between":
            low, high = sorted(parse_date(item) for item in value)
            return Q(**{f"{column}__gte": self.midnight(low), f"{column}__lt": self.midnight(high + timedelta(1))})
        day = parse_date(value)
        start, end = self.midnight(day), self.midnight(day + timedelta(days=1))
        return {
            "eq": Q(**{f"{column}__gte": start, f"{column}__lt": end}),
            "gt": Q(**{f"{column}__gte": end}),
            "gte": Q(**{f"{column}__gte": start}),
            "lt": Q(**{f"{column}__lt": start}),
            "lte": Q(**{f"{column}__lt": end}),
        }[op]

    # --- Activities, birthdays ---------------------------------------------------------------

    def activity(self, spec: dict) -> Q:
        rows = Activity.objects.filter(club=self.club, profile=OuterRef("pk"), type=spec["type"])
        if "within_last_days" in spec:
            rows = rows.filter(occurred_at__gte=self.midnight(self.today - timedelta(days=spec["within_last_days"])))
        for key, value in spec.get("properties", {}).items():
            rows = rows.filter(**{f"properties__{key}": value})
        count = spec.get("count", {"op": "gte", "value": 1})
        op, wanted = count["op"], count["value"]
        if (op, wanted) in (("gte", 1), ("gt", 0)):
            return Q(Exists(rows))
        if (op, wanted) in (("eq", 0), ("lt", 1), ("lte", 0)):
            return ~Q(Exists(rows))
        counted = rows.order_by().values("profile").annotate(n=Count("pk")).values("n")[:1]
        number = Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
        return Q(COUNT_LOOKUPS[op](number, wanted))

    def birthday(self, days: int) -> Q:
        """Birthdays from today to today + days: one (month, first day, last day) run per month span."""
        runs: list[list[int]] = []  # [month, first day, last day]
        for offset in range(days + 1):
            day = self.today + timedelta(days=offset)
            if runs and runs[-1][0] == day.month and runs[-1][2] == day.day - 1:
                runs[-1][2] = day.day
            else:
                runs.append([day.month, day.day, day.day])
            if day.month == 2 and day.day == 28 and not _is_leap(day.year):
                runs[-1][2] = 29  # a 29 February birthday is celebrated on the 28th
        matches = Q()
        for month, first, last in runs:
            matches |= Q(date_of_birth__month=month, date_of_birth__day__gte=first, date_of_birth__day__lte=last)
        return matches


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
