"""From a validated rule tree to one query over the club's profiles (SPEC 8).

Field conditions become column comparisons; activity and tag conditions become `EXISTS`
(which the database turns into a semi- or anti-join and plans either way) or, for a count, a
subquery; nothing is filtered in Python. Relative dates ("in the last 30 days", "birthday in the
next 7 days") are taken from today in the club's timezone, so a club in London and one in
Johannesburg each get their own midnight.

A count ("at least 3 rounds in the last 90 days") is asked in one of three shapes:

- correlated: a count subquery per candidate profile, an index probe each. `rule_queryset`
  uses it for every count: it may be filtered further, sampled (the builder's preview stops
  after ten matches) or used under "not"/"any", and per
  profile the cost follows the candidates, so a handful of profiles costs a handful of probes;
- joined (`rule_member_ids`, the full segment refresh): when a conjunct of the top-level "all"
  is a count with a window ("in the last N days") that excludes zero, the profiles passing the
  other conjuncts are joined to that window's activities and grouped, `HAVING count(*) >= 3`.
  PostgreSQL plans the join either way: a pass over the window hashed against many candidates
  (one pass, parallel workers allowed) or a timeline probe for each of a few;
- grouped: `pk IN (SELECT profile_id … GROUP BY profile_id HAVING count(*) >= 3)`, one pass
  over the window for the whole club, joined to the profiles as a semi-join. Only inside
  `rule_member_ids`, for the further windowed counts of the top-level "all" (only one can be
  joined without multiplying rows) and for a count with property conditions (whose row estimate
  PostgreSQL can't make, so a join could be planned as a lookup per activity). Under "not" or
  "any" a grouped IN would become a subplan searched per profile, so those stay correlated.

On 1M profiles / 20M activities (benchmarks/segments.py), the benchmark segment's matches take
1.5 s correlated, 1.2 s grouped and 0.6-0.85 s joined.
"""

import operator
import zoneinfo
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
from django.utils import timezone

from crm.models import Activity, ProfileTag
from crm.selectors import profile_active_queryset
from marketing.errors import MarketingError, MarketingErrorCode
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


COUNT_HOLDS = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


class InvalidRule(ValueError):
    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{error.path}: {error.message}" for error in errors))

    def as_marketing_error(self, message: str):
        """The refusal services raise: code invalid_rule, every problem with its path."""
        problems = [{"path": error.path, "message": error.message} for error in self.errors]
        return MarketingError(MarketingErrorCode.INVALID_RULE, message, {"errors": problems})


def rule_queryset(*, club, rule, now: datetime | None = None):
    """The club's live profiles matching `rule` (raises InvalidRule with every problem); every
    count is asked per profile."""
    errors = rule_validate(rule)
    if errors:
        raise InvalidRule(errors)
    condition = _Compiler(club, now or timezone.now(), grouped=False).node(rule, joinable=False)
    return profile_active_queryset(club=club).filter(condition)


def rule_member_ids(*, club, rule, now: datetime | None = None):
    """The ids of `rule_queryset`'s profiles (a values queryset, one column `member`), in the shape
    that evaluates fastest over a whole club (the module docstring): a windowed count joined and
    grouped, only the candidates' activities counted."""
    errors = rule_validate(rule)
    if errors:
        raise InvalidRule(errors)
    compiler = _Compiler(club, now or timezone.now(), grouped=True)
    conjuncts = rule.get("all", [rule])
    # Not a count with property conditions: PostgreSQL can't estimate how many activities those
    # keep, and taking thousands for a handful it would drive a profile lookup per activity.
    joined = next(
        (
            n
            for n, child in enumerate(conjuncts)
            if "activity" in child and _groupable(child["activity"]) and not child["activity"].get("properties")
        ),
        None,
    )
    if joined is None:
        return profile_active_queryset(club=club).filter(compiler.node(rule, joinable=True)).values(member=F("pk"))
    others = Q()
    for n, child in enumerate(conjuncts):
        if n != joined:
            others &= compiler.node(child, joinable=True)
    spec = conjuncts[joined]["activity"]
    return (
        profile_active_queryset(club=club)
        .filter(others)
        .filter(**compiler.activity_conditions(spec, prefix="activities__"))  # one join: the same activity
        .values(member=F("pk"))
        .annotate(n=Count("*"))
        .filter(_having(*_count(spec)))
        .values("member")
    )


class _Compiler:
    def __init__(self, club, now: datetime, *, grouped: bool):
        self.club = club
        self.grouped = grouped
        self.zone = zoneinfo.ZoneInfo(club.timezone)
        self.now = now
        self.today = now.astimezone(self.zone).date()

    def midnight(self, day: date) -> datetime:
        """The start of `day` in the club's timezone."""
        return datetime.combine(day, time.min, tzinfo=self.zone)

    def node(self, node, *, joinable: bool = False) -> Q:
        """`joinable`: the node is a conjunct of the top-level "all" (or the whole rule), where an
        `IN (subquery)` becomes a join; under "not" or "any" it would not."""
        if "all" in node:
            combined = Q()
            for child in node["all"]:
                combined &= self.node(child, joinable=joinable)
            return combined
        if "any" in node:
            combined = Q()
            for child in node["any"]:
                combined |= self.node(child, joinable=joinable and len(node["any"]) == 1)
            return combined
        if "not" in node:
            return ~self.node(node["not"])
        if "field" in node:
            return self.field(FIELDS[node["field"]], node["op"], node.get("value"))
        if "activity" in node:
            return self.activity(node["activity"], joinable=joinable)
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

    def activity(self, spec: dict, *, joinable: bool = False) -> Q:
        window = Activity.objects.filter(**self.activity_conditions(spec))
        rows = window.filter(profile=OuterRef("pk"))
        op, wanted = _count(spec)
        if (op, wanted) in (("gte", 1), ("gt", 0)):
            return Q(Exists(rows))
        if (op, wanted) in (("eq", 0), ("lt", 1), ("lte", 0)):
            return ~Q(Exists(rows))
        if self.grouped and joinable and _groupable(spec):
            # One pass over the window, grouped by profile (see the module docstring).
            qualifying = (
                window.order_by().values("profile").annotate(n=Count("*")).filter(_having(op, wanted)).values("profile")
            )
            return Q(pk__in=qualifying)
        counted = rows.order_by().values("profile").annotate(n=Count("pk")).values("n")[:1]
        number = Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
        return Q(COUNT_LOOKUPS[op](number, wanted))

    def activity_conditions(self, spec: dict, prefix: str = "") -> dict:
        """The activities an activity condition counts, as filter arguments (on Activity, or
        through a relation when `prefix` is given)."""
        conditions = {f"{prefix}club": self.club, f"{prefix}type": spec["type"]}
        if "within_last_days" in spec:
            conditions[f"{prefix}occurred_at__gte"] = self.midnight(
                self.today - timedelta(days=spec["within_last_days"])
            )
        for key, value in spec.get("properties", {}).items():
            conditions[f"{prefix}properties__{key}"] = value
        return conditions

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


def _count(spec: dict) -> tuple[str, int]:
    count = spec.get("count", {"op": "gte", "value": 1})
    return count["op"], count["value"]


def _groupable(spec: dict) -> bool:
    """A count with a window that a profile without any such activity can't satisfy (a profile
    with none has no group, so only those counts can be answered from groups)."""
    op, wanted = _count(spec)
    return "within_last_days" in spec and not COUNT_HOLDS[op](0, wanted) and (op, wanted) not in (("gte", 1), ("gt", 0))


def _having(op: str, wanted: int) -> Q:
    return Q(n=wanted) if op == "eq" else Q(**{f"n__{op}": wanted})


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
