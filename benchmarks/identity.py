#!/usr/bin/env python
"""Identity resolution benchmark: precision, recall and speed on people whose truth is known.

    .venv/bin/python benchmarks/identity.py [--records 20000] [--json var/bench-identity.json]

Generates people (with families sharing an email, phone and postcode, and twins with different
first names), then one to three MCA v1 records per person with the mess real exports have:
typos, nicknames, first and last name swapped, missing fields, changed emails and phones, a
birthday with day and month swapped. Each record has its own legacy id, so nothing but the
matching rules can join them. The records are written as a ZA export and imported through
`import_profiles`' code path into a scratch database; then every pair of records is judged:
same final profile versus same true person. Prints pairwise precision, recall, F1, what the
review queue holds, and records/s, against an exact-keys-only baseline computed on the same
records in the same run (email or phone equal joins, as most CRMs do).

Runs on the configured database (PostgreSQL for the figures in the README), in a scratch
database of its own that is dropped afterwards.
"""

import argparse
import csv
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()


from scratch import scratch_database  # noqa: E402

from crm.backfill.importer import profiles_import  # noqa: E402
from crm.demo import story as demo_story  # noqa: E402
from crm.identity.matching import NICKNAMES  # noqa: E402
from crm.kernel.actor import Actor  # noqa: E402
from crm.models import Club, CustomerProfile, MergeSuggestion, ProfileIdentifier  # noqa: E402

EXTRA_FIRST_NAMES_TEXT = """
Lwazi Mpho Karabo Zinhle Nandi Siyabonga Tumelo Busisiwe Charlize Riaan Marius Elmarie Hanlie Wian Dewald
Annelie Lizelle Tshepo Kgomotso Neo Lesedi Amahle Lethabo Minenhle Sne Vusi Oliver Harry George Jack Oscar
Arthur Freddie Archie Henry Leo Amelia Isla Ivy Florence Freya Poppy Evie Sophie Ella Lily Rosie Daisy Phoebe
Imogen Harriet Matilda Eleanor Arjun Sanjay Deepa Kavitha Fatima Zainab Ibrahim Omar Hassan Layla Nadia Tariq
Sofia Lucas Mateo Diego Camila Valentina Hugo Louis Jules Chloé Manon Lea Ines Finn Niamh Aoife Ciaran Siobhan
Declan Orla Rhys Cerys Dylan Bethan Gareth
"""
EXTRA_LAST_NAMES_TEXT = """
Jones Davies Evans Thomas Roberts Johnson Walker Wright Robinson Thompson White Hughes Edwards Green Hall Wood
Harris Lewis Martin Jackson Clarke Clark Turner Hill Scott Cooper Morris Ward Moore King Watson Baker Harrison
Morgan Patel Young Allen Mitchell James Anderson Phillips Lee Bell Parker Davis Shabalala Mabaso Cele Ngcobo
Mkhize Buthelezi Zungu Radebe Maseko Nhlapo Hlongwane Mathebula Chauke Maluleke Mnisi Ngwenya Moloi Tau
Motaung Mofokeng Sibiya Shezi Gumede Majola Bhengu Ntuli Zwane Mazibuko Malinga Cloete Engelbrecht Swanepoel
Vermeulen Jansen Olivier Bezuidenhout Erasmus Marais Pienaar Louw Lombard Strydom Nieuwoudt Kotze Burger
Joubert Oosthuizen Rossouw Theron Viljoen Barnard Hattingh Schoeman Potgieter Smit Roux Reddy Moodley Chetty
Singh Maharaj Ramsamy Padayachee Murray Campbell Stewart Macdonald Reid Ross Fraser Hamilton Graham Kennedy
O'Brien Murphy Kelly Byrne Walsh Ryan Doyle McCarthy Gallagher Quinn
"""
TARGETS = {"precision": 0.995, "recall": 0.95, "records_per_second": 1000}
# The demo club's names, plus more so that a club of tens of thousands has realistic collisions.
FIRST_NAMES = [*NICKNAMES, *demo_story.FIRST_NAMES, *EXTRA_FIRST_NAMES_TEXT.split()]
LAST_NAMES = [*demo_story.LAST_NAMES, *EXTRA_LAST_NAMES_TEXT.split(), "van Wyk", "de Villiers", "van Zyl", "du Toit"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example", "inbox.example"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", help="Write the figures to this file.")
    options = parser.parse_args()

    rng = random.Random(options.seed)
    records = generate(rng, options.records)
    with scratch_database("identity"):
        figures = run(records, options)
    print_table(figures)
    if options.json:
        Path(options.json).write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\nFigures written to {options.json}")


# --- People with known truth --------------------------------------------------------------


def generate(rng: random.Random, target: int) -> list[dict]:
    people = []
    while sum(person["copies"] for person in people) < target:
        if rng.random() < 0.12:
            people.extend(_family(rng, len(people)))
        else:
            people.append(_person(rng, len(people)))
    records = []
    for person in people:
        for copy in range(person["copies"]):
            records.append(_record(rng, person, messy=copy > 0))
    rng.shuffle(records)
    for index, record in enumerate(records[:target]):
        record["legacy_id"] = f"L{index + 1:07d}"
    return records[:target]


def _person(rng, index, **shared) -> dict:
    first, last = rng.choice(FIRST_NAMES).capitalize(), shared.get("last") or rng.choice(LAST_NAMES)
    born = shared.get("born") or date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 68))
    return {
        "truth": index,
        "first": first,
        "last": last,
        "born": born,
        "postcode": shared.get("postcode") or f"{rng.randint(1, 9999):04d}",
        "email": shared.get("email") or f"{first}.{last}.{index}@{rng.choice(DOMAINS)}".lower().replace(" ", ""),
        "phone": shared.get("phone") or f"08{rng.randint(1, 4)}{rng.randint(1000000, 9999999)}",
        "copies": rng.choices((1, 2, 3), (55, 33, 12))[0],
    }


def _family(rng, start) -> list[dict]:
    """A household: one surname, postcode, email and phone; sometimes twins (same birthday)."""
    last = rng.choice(LAST_NAMES)
    shared = {
        "last": last,
        "postcode": f"{rng.randint(1, 9999):04d}",
        "email": f"the{last}s{start}@{rng.choice(DOMAINS)}".lower().replace(" ", ""),
        "phone": f"07{rng.randint(1, 9)}{rng.randint(1000000, 9999999)}",
    }
    members = [_person(rng, start, **shared), _person(rng, start + 1, **shared)]
    if rng.random() < 0.3:
        twin_born = members[1]["born"]
        twin = _person(rng, start + 2, **shared, born=twin_born)
        while twin["first"] == members[1]["first"]:
            twin["first"] = rng.choice(FIRST_NAMES).capitalize()
        members.append(twin)
    return members


def _record(rng, person, *, messy: bool) -> dict:
    record = {key: person[key] for key in ("truth", "first", "last", "born", "postcode", "email", "phone")}
    if not messy:
        return record
    for change in rng.sample(
        ["typo", "nickname", "swap", "no_email", "no_phone", "no_born", "no_postcode", "new_email", "new_phone"],
        rng.choice((1, 1, 2, 2, 3)),
    ):
        if change == "typo":
            name = rng.choice(("first", "last"))
            record[name] = _typo(rng, record[name])
        elif change == "nickname" and record["first"].lower() in NICKNAMES:
            record["first"] = rng.choice(NICKNAMES[record["first"].lower()]).capitalize()
        elif change == "swap":
            record["first"], record["last"] = record["last"], record["first"]
        elif change.startswith("no_"):
            record[change[3:]] = None
        elif change == "new_email":
            record["email"] = f"{record['first']}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}".lower().replace(" ", "")
        elif change == "new_phone":
            record["phone"] = f"06{rng.randint(0, 9)}{rng.randint(1000000, 9999999)}"
    return record


def _typo(rng, name: str) -> str:
    if len(name) < 4:
        return name
    position = rng.randint(1, len(name) - 2)
    letters = list(name)
    if rng.random() < 0.5:
        letters[position], letters[position + 1] = letters[position + 1], letters[position]
    else:
        letters[position] = rng.choice("aeioulnrst")
    return "".join(letters)


# --- Import and judge ----------------------------------------------------------------------


def run(records: list[dict], options) -> dict:
    club = Club.objects.create(slug="bench", name="Benchmark Golf Club", default_phone_region="ZA", country="ZA")
    path = ROOT / "var" / "bench-identity-export.csv"
    path.parent.mkdir(exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["MemberID", "FirstName", "Surname", "Email", "CellNo", "DOB", "PostalCode"])
        for record in records:
            writer.writerow(
                [
                    record["legacy_id"],
                    record["first"],
                    record["last"],
                    record["email"] or "",
                    record["phone"] or "",
                    record["born"].strftime("%Y/%m/%d") if record["born"] else "",
                    record["postcode"] or "",
                ]
            )
    print(f"Importing {len(records):,} records through import_profiles …", flush=True)
    started = time.perf_counter()
    report = profiles_import(club=club, actor=Actor.system(), fmt="za", source=path, on_progress=_progress)
    seconds = time.perf_counter() - started

    owner = dict(ProfileIdentifier.objects.for_club(club).filter(kind="legacy_id").values_list("value", "profile_id"))
    merged_into = dict(
        CustomerProfile.objects.for_club(club).filter(merged_into__isnull=False).values_list("pk", "merged_into_id")
    )

    def live(profile_id):
        while profile_id in merged_into:
            profile_id = merged_into[profile_id]
        return profile_id

    predicted = [live(owner[f"za:{record['legacy_id']}"]) for record in records]
    truth = [record["truth"] for record in records]
    figures = {"records": len(records), "people": len(set(truth)), "seconds": seconds}
    figures["records_per_second"] = len(records) / seconds
    figures.update({f"resolver_{k}": v for k, v in pairwise(predicted, truth).items()})
    figures.update({f"exact_keys_{k}": v for k, v in pairwise(exact_keys_baseline(records), truth).items()})
    figures["profiles"] = len(set(predicted))
    figures["suggestions_pending"] = MergeSuggestion.objects.for_club(club).count()
    suggestions = MergeSuggestion.objects.for_club(club).values_list("profile_a_id", "profile_b_id")
    people_of = defaultdict(set)
    for profile_id, person in zip(predicted, truth, strict=True):
        people_of[profile_id].add(person)
    figures["suggestions_correct"] = sum(1 for a, b in suggestions if people_of[live(a)] & people_of[live(b)])
    figures["report"] = report.as_dict()
    figures["meets_targets"] = (
        figures["resolver_precision"] >= TARGETS["precision"]
        and figures["resolver_recall"] >= TARGETS["recall"]
        and figures["records_per_second"] >= TARGETS["records_per_second"]
    )
    return figures


def _progress(done, total):
    sys.stderr.write(f"\r  {done:,}/{total:,} rows")
    if done >= total:
        sys.stderr.write("\n")


def pairwise(predicted: list, truth: list) -> dict:
    """Pairwise precision/recall of 'same person' without listing pairs: counted per cluster."""

    def pairs(counter: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    true_positive = pairs(Counter(zip(predicted, truth, strict=True)))
    predicted_pairs, actual_pairs = pairs(Counter(predicted)), pairs(Counter(truth))
    precision = true_positive / predicted_pairs if predicted_pairs else 1.0
    recall = true_positive / actual_pairs if actual_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "pairs_true": actual_pairs,
        "pairs_found": predicted_pairs,
    }


def exact_keys_baseline(records: list[dict]) -> list[int]:
    """Join any two records with an equal email or phone (union-find): what exact-key CRMs do."""
    parent = list(range(len(records)))

    def find(index):
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    first_seen = {}
    for index, record in enumerate(records):
        for key in (("email", record["email"]), ("phone", record["phone"])):
            if key[1]:
                if key in first_seen:
                    parent[find(index)] = find(first_seen[key])
                else:
                    first_seen[key] = index
    return [find(index) for index in range(len(records))]


def print_table(figures: dict) -> None:
    print()
    print(f"Identity resolution on {figures['records']:,} records of {figures['people']:,} people")
    print(f"{'method':<34} {'precision':>10} {'recall':>8} {'F1':>7} {'pairs found':>12}")
    print("-" * 75)
    for label, prefix in (("Fairway resolver (import path)", "resolver"), ("exact keys only (baseline)", "exact_keys")):
        print(
            f"{label:<34} {figures[prefix + '_precision']:>10.4f} {figures[prefix + '_recall']:>8.4f} "
            f"{figures[prefix + '_f1']:>7.4f} {figures[prefix + '_pairs_found']:>12,}"
        )
    print("-" * 75)
    print(
        f"true pairs {figures['resolver_pairs_true']:,}; profiles {figures['profiles']:,}; "
        f"suggestions for review {figures['suggestions_pending']:,} ({figures['suggestions_correct']:,} correct)"
    )
    print(
        f"speed {figures['records_per_second']:,.0f} records/s ({figures['seconds']:.1f} s); report {figures['report']}"
    )
    verdict = "meets" if figures["meets_targets"] else "MISSES"
    print(
        f"{verdict} the targets: precision ≥ {TARGETS['precision']}, recall ≥ {TARGETS['recall']}, "
        f"≥ {TARGETS['records_per_second']:,} records/s"
    )


if __name__ == "__main__":
    main()
