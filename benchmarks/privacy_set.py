"""A labelled set of personal data for the privacy benchmark, generated the same every time.

    python benchmarks/privacy_set.py OUT_DIR            # writes tuning/ and validation/

Each part is a folder of research sources in several formats: survey answers as CSV and
JSONL (a participant column, free-text answers, some answers pasting an e-mail with its
greeting and signature), and Markdown interview transcripts (speaker labels, an interviewer
naming the participant). Every planted value is listed with its kind in the part's
``key.json``, by source; the experiment's list of names is in ``names.txt``.

The two parts come from different seeds and from different sentence templates, people,
organisations and domains: ``validation`` is never looked at while tuning the detectors.
Every part plants at least ``--per-kind`` items of every kind (participant ids, participant
names, speaker names, listed names and organisations, greeting and signature names, e-mail
addresses, phone numbers, URLs, IP addresses, payment cards, IBANs), among look-alikes that
are not personal data: dates, times, prices, order and ticket numbers, versions, percentages.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers

KINDS = (
    "participant_id",
    "participant_name",
    "speaker",
    "listed",
    "greeting",
    "email",
    "phone",
    "url",
    "ip",
    "card",
    "iban",
)


@dataclass(frozen=True)
class Pool:
    """The words one part draws from."""

    first: list[str]
    last: list[str]
    organisations: list[str]
    domains: list[str]
    sentences: list[str]
    """Templates with {email} {phone} {url} {ip} {card} {iban} {listed} {other} slots."""
    filler: list[str]
    """Sentences of look-alikes (no personal data)."""


TUNING = Pool(
    first=[
        "Dana",
        "Marek",
        "Ines",
        "Priya",
        "Tomasz",
        "Aisha",
        "Liam",
        "Noor",
        "Elena",
        "Kofi",
        "Mei",
        "Jonas",
        "Sofia",
        "Raj",
        "Hana",
        "Oscar",
        "Leila",
        "Pablo",
        "Yuki",
        "Amara",
        "Felix",
        "Greta",
        "Ivan",
        "Zara",
        "Hugo",
        "Nina",
        "Omar",
        "Clara",
        "Sven",
        "Lucia",
    ],
    last=[
        "Whitfield",
        "Nowak",
        "Duarte",
        "Raman",
        "Kowalski",
        "Haddad",
        "Murphy",
        "Sato",
        "Petrov",
        "Mensah",
        "Chen",
        "Berg",
        "Rossi",
        "Gupta",
        "Novak",
        "Lindqvist",
        "Okafor",
        "Garcia",
        "Tanaka",
        "Dubois",
        "Fischer",
        "Ivanova",
        "Costa",
        "Larsen",
    ],
    organisations=[
        "Northwind Traders",
        "Globex",
        "Initech",
        "Umbrella Health",
        "Stark Logistics",
        "Wayne Foods",
        "Acme Analytics",
        "Hooli",
        "Vandelay Imports",
        "Soylent Labs",
    ],
    domains=[
        "northwind.example.com",
        "globex.io",
        "initech.co.uk",
        "mail.example.org",
        "hooli.net",
        "acme-analytics.de",
    ],
    sentences=[
        "You can reach me at {email} if the export breaks again.",
        "My number is {phone}, text me when the report is ready.",
        "The dashboard at {url} takes ages to load on Mondays.",
        "Our VPN gateway {ip} drops me whenever I work from home.",
        "They charged my card {card} twice for the same plan.",
        "Refunds go to {iban} but finance never confirms them.",
        "We moved the whole team to {listed} last spring.",
        "I asked {other} about it and she had the same problem.",
        "Call {phone} or write to {email}, either works for me.",
        "The invoice link {url} expired before I could pay it.",
        "I pay with {card} and the receipt goes to {email}.",
        "Support told me to whitelist {ip} in the firewall.",
        "Salaries are paid into {iban} at the end of the month.",
        "{listed} still uses the old portal, which is painful.",
    ],
    filler=[
        "We met on 2024-03-15 at 10:30 and the renewal cost $1,299.00.",
        "Version 3.11.4 fixed the crash but ticket 4521 is still open.",
        "About 45% of the orders (order 88213) arrived late in Q3.",
        "The meeting moved to 14:45 on 12/05/2024, room 301.",
        "I spend 2 to 3 hours a week on the weekly report.",
        "Honestly the mobile app is fine, the web app is the problem.",
        "It took 17 days and 3 calls to get the refund of 49.99 EUR.",
        "Build 2024.1.0.127 was the last one that worked for us.",
    ],
)

VALIDATION = Pool(
    first=[
        "Agnes",
        "Bruno",
        "Chiara",
        "Dmitri",
        "Esther",
        "Farid",
        "Gwen",
        "Hamza",
        "Ingrid",
        "Jasper",
        "Kaori",
        "Lars",
        "Maren",
        "Nikolai",
        "Olga",
        "Pavel",
        "Quinn",
        "Rosa",
        "Stefan",
        "Tamsin",
        "Uma",
        "Viktor",
        "Wanda",
        "Xavier",
        "Yara",
    ],
    last=[
        "Abbott",
        "Brennan",
        "Castillo",
        "Delacroix",
        "Eriksen",
        "Fontaine",
        "Grimaldi",
        "Hoffmann",
        "Iqbal",
        "Jensen",
        "Kaminski",
        "Lefebvre",
        "Moreau",
        "Nakamura",
        "Oyelaran",
        "Pereira",
        "Quist",
        "Romero",
        "Schulz",
        "Thorne",
    ],
    organisations=[
        "Brightline Insurance",
        "Cobalt Freight",
        "Dunmore Council",
        "Evergreen Dental",
        "Fairway Bank",
        "Granite Software",
        "Harbor Clinic",
        "Ironwood Retail",
    ],
    domains=[
        "brightline.example.net",
        "cobaltfreight.com",
        "dunmore.gov",
        "evergreen-dental.co",
        "fairway.bank.example.com",
        "granite.dev",
    ],
    sentences=[
        "Please send the contract to {email} rather than my old address.",
        "If nobody answers, try {phone} on weekday mornings.",
        "Bookmark {url} because the search never finds it.",
        "The audit flagged logins from {ip} that were not ours.",
        "My corporate card {card} was blocked during the trip.",
        "The supplier wants payment to {iban} by Friday.",
        "Before this I spent six years at {listed} doing claims.",
        "{other} runs the weekly sync and keeps the notes.",
        "Ring {phone}; emails to {email} sit unread for days.",
        "The onboarding guide lives at {url} in our wiki.",
        "We reimburse to {iban} once {other} signs off.",
        "Traffic from {ip} was throttled by the new proxy.",
        "{listed} asked us to pilot the new workflow.",
        "I typed {card} into the form and it just spun.",
    ],
    filler=[
        "The quarter closed on 30/06/2025 with revenue up 12.5%.",
        "We are on release 7.2.19, and incident INC-20931 is still open.",
        "At 09:15 every day I export 3 spreadsheets of 1,200 rows each.",
        "The plan costs 249 GBP a month for up to 25 seats.",
        "Ticket #77120 was merged into #77118 on 3 March.",
        "Renewal is due 2025-11-01; the quote was 18,400.00 USD.",
        "I rate the new search 4 out of 5, the filters 2 out of 5.",
        "Our SLA is 99.9% uptime with a 4-hour response time.",
    ],
)


@dataclass
class Planted:
    """One part's sources and every value planted in them."""

    files: dict[str, str] = field(default_factory=dict)
    key: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)

    def plant(self, source: str, kind: str, value: str) -> str:
        self.key.setdefault(source, []).append({"kind": kind, "value": value})
        return value

    def counts(self) -> dict[str, int]:
        totals = dict.fromkeys(KINDS, 0)
        for items in self.key.values():
            for item in items:
                totals[item["kind"]] += 1
        return totals


def luhn_digit(partial: str) -> str:
    total = 0
    for position, char in enumerate(reversed(partial)):
        value = int(char)
        if position % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("37", 15)])
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    number = body + luhn_digit(body)
    style = rng.random()
    if length == 15:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i : i + 4] for i in range(0, 16, 4)]
    if style < 0.45:
        return " ".join(groups)
    if style < 0.75:
        return "-".join(groups)
    return number


IBAN_LENGTHS = {"DE": 22, "GB": 22, "FR": 27, "NL": 18, "ES": 24, "IT": 27, "BE": 16}


def iban(rng: random.Random) -> str:
    country, length = rng.choice(sorted(IBAN_LENGTHS.items()))
    if country in ("GB", "NL"):
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
        bban += "".join(rng.choice(string.digits) for _ in range(length - 8))
    else:
        bban = "".join(rng.choice(string.digits) for _ in range(length - 4))
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.6:
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


PHONE_REGIONS = {"US": 0.5, "GB": 0.2, "DE": 0.15, "FR": 0.15}


def phone(rng: random.Random) -> str:
    """A valid number: US ones in national and international formats (the set's region is
    US), others in international format, the way people write them."""
    region = rng.choices(list(PHONE_REGIONS), weights=list(PHONE_REGIONS.values()))[0]
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    digits = str(example.national_number)
    while True:
        keep = 3 if region == "US" else 2
        national = digits[:keep] + "".join(rng.choice(string.digits) for _ in digits[keep:])
        number = phonenumbers.parse(f"+{example.country_code}{national}")
        if phonenumbers.is_valid_number(number):
            break
    if region == "US":
        style = rng.choice(["national", "dots", "international", "e164", "dashes"])
        national_text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        nn = str(number.national_number)
        return {
            "national": national_text,
            "dots": f"{nn[:3]}.{nn[3:6]}.{nn[6:]}",
            "dashes": f"{nn[:3]}-{nn[3:6]}-{nn[6:]}",
            "international": phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
            ),
            "e164": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        }[style]
    style = rng.choice(
        [phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.E164]
    )
    return phonenumbers.format_number(number, style)


def ip(rng: random.Random) -> str:
    if rng.random() < 0.8:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    if rng.random() < 0.5:
        return "2001:db8::" + ":".join(groups[:3])
    return ":".join(groups)


class Writer:
    """Fills one part: sentences with planted values, in files of several formats."""

    def __init__(self, pool: Pool, seed: int) -> None:
        self.pool = pool
        self.rng = random.Random(seed)
        self.planted = Planted()
        self.people: list[tuple[str, str]] = [(f, la) for f in pool.first for la in pool.last]
        self.rng.shuffle(self.people)
        self._next_person = 0
        self.listed_people = [f"{f} {la}" for f, la in self.people[-40:]]
        self.planted.names.update(pool.organisations + self.listed_people)

    def person(self) -> tuple[str, str]:
        person = self.people[self._next_person % (len(self.people) - 40)]
        self._next_person += 1
        return person

    def email(self, first: str, last: str) -> str:
        rng = self.rng
        local = rng.choice(
            [f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}", f"{first}+ux"]
        )
        return f"{local.lower()}@{rng.choice(self.pool.domains)}"

    def url(self) -> str:
        rng = self.rng
        domain = rng.choice(self.pool.domains)
        path = "/".join(
            rng.choice(["reports", "billing", "app", "help", "q3", "invoice", "v2"])
            for _ in range(rng.randint(0, 3))
        )
        query = f"?id={rng.randint(100, 99999)}" if rng.random() < 0.3 else ""
        start = rng.choice(["https://", "http://", "https://www.", "www.", ""])
        if start == "" and not path:
            path = "login"
        return f"{start}{domain}" + (f"/{path}" if path else "") + query

    def sentence(self, source: str) -> str:
        """One sentence of the pool with every slot planted (and its key written)."""
        template = self.rng.choice(self.pool.sentences)
        first, last = self.person()
        plant = self.planted.plant
        values: dict[str, Callable[[], str]] = {
            "email": lambda: plant(source, "email", self.email(first, last)),
            "phone": lambda: plant(source, "phone", phone(self.rng)),
            "url": lambda: plant(source, "url", self.url()),
            "ip": lambda: plant(source, "ip", ip(self.rng)),
            "card": lambda: plant(source, "card", card(self.rng)),
            "iban": lambda: plant(source, "iban", iban(self.rng)),
            "listed": lambda: plant(
                source, "listed", self.rng.choice(self.pool.organisations + self.listed_people)
            ),
            "other": lambda: plant(source, "listed", self.rng.choice(self.listed_people)),
        }
        return template.format_map({k: v() for k, v in values.items() if "{" + k + "}" in template})

    def answer(self, source: str) -> str:
        rng = self.rng
        parts = [self.sentence(source) for _ in range(rng.randint(1, 2))]
        parts += rng.sample(self.pool.filler, rng.randint(0, 2))
        rng.shuffle(parts)
        text = " ".join(parts)
        if rng.random() < 0.3:  # a pasted message with a greeting and a signature
            greeted = plant_name = self.person()[0]
            self.planted.plant(source, "greeting", greeted)
            signed = self.person()[0]
            self.planted.plant(source, "greeting", signed)
            sign = rng.choice(["Thanks,\n", "Best,\n", "\u2014 ", "-- "])
            hello = rng.choice(["Hi", "Hello", "Dear", "Hey"])
            text = f"{hello} {plant_name},\n{text}\n{sign}{signed}"
        return text

    def survey(self, name: str, rows: int, fmt: str) -> None:
        records = []
        for n in range(rows):
            first, last = self.person()
            if n % 2:
                participant = self.planted.plant(
                    name, "participant_id", f"R-{self.rng.randint(1000, 9999)}{n}"
                )
            else:
                participant = self.planted.plant(name, "participant_name", f"{first} {last}")
            records.append(
                {
                    "respondent": participant,
                    "plan": self.rng.choice(["free", "team", "enterprise"]),
                    "answer": self.answer(name),
                }
            )
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=["respondent", "plan", "answer"])
            writer.writeheader()
            writer.writerows(records)
            self.planted.files[name] = out.getvalue()
        else:
            self.planted.files[name] = "".join(json.dumps(r) + "\n" for r in records)

    def transcript(self, name: str, turns: int) -> None:
        first, last = self.person()
        speaker = self.planted.plant(
            name, "speaker", f"{first} {last}" if self.rng.random() < 0.5 else first
        )
        lines = ["# Interview", ""]
        hello = self.rng.choice(["Hi", "Hello", "Thanks"])
        lines.append(
            f"**Interviewer:** {hello} {first}, thanks for joining. Tell me about your week."
        )
        self.planted.plant(name, "greeting" if speaker != first else "speaker", first)
        for _ in range(turns):
            lines.append(f"**{speaker}:** {self.answer(name).replace(chr(10), ' ')}")
            lines.append(
                f"**Interviewer:** {self.rng.choice(self.pool.filler)} What happened next?"
            )
        lines.append(f"**{speaker}:** {self.rng.choice(self.pool.filler)}")
        self.planted.files[name] = "\n".join(lines) + "\n"


def build(pool: Pool, seed: int, per_kind: int) -> Planted:
    writer = Writer(pool, seed)
    batch = 0
    while min(writer.planted.counts().values()) < per_kind:
        batch += 1
        writer.survey(f"survey-{batch:03d}.csv", 40, "csv")
        writer.survey(f"answers-{batch:03d}.jsonl", 40, "jsonl")
        for n in range(6):
            writer.transcript(f"interview-{batch:03d}-{n}.md", 4)
    return writer.planted


def write(planted: Planted, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in planted.files.items():
        (folder / name).write_text(content, encoding="utf-8")
    (folder / "key.json").write_text(json.dumps(planted.key, indent=1), encoding="utf-8")
    (folder / "names.txt").write_text("\n".join(sorted(planted.names)) + "\n", encoding="utf-8")


def parts(per_kind: int) -> dict[str, Planted]:
    return {"tuning": build(TUNING, 11, per_kind), "validation": build(VALIDATION, 97, per_kind)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-kind", type=int, default=600)
    args = parser.parse_args()
    for name, planted in parts(args.per_kind).items():
        write(planted, args.out / name)
        print(name, planted.counts())


if __name__ == "__main__":
    main()
