"""The offline detectors: each kind found in the formats people write it in, and the
look-alikes (dates, times, prices, versions, numbers failing their check) left alone."""

from __future__ import annotations

import pytest
from persona.privacy.detectors import Detector, greeted_names, iban_valid, luhn_valid


def kinds(text: str, detector: Detector | None = None) -> list[tuple[str, str]]:
    found = (detector or Detector({})).find(text)
    return [(f.kind, text[f.start : f.end]) for f in found]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("write to ana.lopez+ux@mail.example.org today", "email", "ana.lopez+ux@mail.example.org"),
        ("call +44 20 7946 0958 please", "phone", "+44 20 7946 0958"),
        ("call (415) 555-2671 please", "phone", "(415) 555-2671"),
        ("call 415.555.2671 please", "phone", "415.555.2671"),
        ("see https://intranet.acme.io/a?b=1.", "url", "https://intranet.acme.io/a?b=1"),
        ("see www.acme.com/pricing, then", "url", "www.acme.com/pricing"),
        ("see acme-tools.co.uk/help for it", "url", "acme-tools.co.uk/help"),
        ("from 192.168.10.42 again", "ip", "192.168.10.42"),
        ("host 1.2.3.4 was down", "ip", "1.2.3.4"),
        ("from 2001:db8::8a2e:370:7334 again", "ip", "2001:db8::8a2e:370:7334"),
        ("card 4111-1111-1111-1111 declined", "card", "4111-1111-1111-1111"),
        ("card 5500005555555559 declined", "card", "5500005555555559"),
        ("to DE89 3704 0044 0532 0130 00 now", "iban", "DE89 3704 0044 0532 0130 00"),
        ("to GB82WEST12345698765432 now", "iban", "GB82WEST12345698765432"),
    ],
)
def test_each_kind_is_found(text: str, kind: str, value: str) -> None:
    assert kinds(text) == [(kind, value)]


@pytest.mark.parametrize(
    "text",
    [
        "We met on 2024-03-15 at 10:30:00 and paid $1,299.00.",
        "Version 3.11.4 fixed it; ticket 4521 is closed.",
        "The card 4111 1111 1111 1112 fails its check.",  # Luhn fails
        "IBAN GB00 WEST 1234 5698 7654 32 fails its check.",
        "Order 12345 shipped in 3 days, 2 of 5 boxes.",
        "Hi there, thanks again. Hi all!",
        "The file was report.pdf and it said e.g. nothing.",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert kinds(text) == []


def test_checks() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid(
        "DE89 3704 0044 0532 0130 01"
    )


def test_listed_names_are_whole_words_longest_first_and_keep_wins() -> None:
    detector = Detector(
        {"Ann": "participant", "Ann Lee": "name", "Acme": "name", "P7": "participant"},
        keep=["acme"],
    )
    text = "Ann Lee told Ann's sister that Annabel and P7 (not P77) use Acme."
    assert kinds(text, detector) == [
        ("name", "Ann Lee"),
        ("participant", "Ann"),
        ("participant", "P7"),
    ]
    ids = Detector({"P-0417": "participant", "O'Neil": "name", "R-4155552671": "participant"})
    assert kinds("R-4155552671 said so", ids) == [("participant", "R-4155552671")]
    assert kinds("P-0417 and O'Neil's team, not P-04170", ids) == [
        ("participant", "P-0417"),
        ("name", "O'Neil"),
    ]


def test_greeting_and_signature_names() -> None:
    text = "Hi Sarah, the export broke.\nThanks,\nTom Baker\n— Lena"
    assert list(greeted_names(text)) == ["Sarah", "Tom Baker", "Lena"]
    assert list(greeted_names("Hi there, Hello Team")) == []


def test_local_phone_formats_follow_the_region() -> None:
    assert kinds("ring 020 7946 0958 today", Detector({}, region="GB")) == [
        ("phone", "020 7946 0958")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "a" * 200_000 + " @",  # an e-mail's start tried at every letter would never end
        "x." * 100_000 + "com",  # a domain's start walked back from every label
        "\n-" + " " * 200_000 + "x",  # a signature's spaces tried two ways
        "1 " * 100_000,  # one run of digits
        "Ann'" * 50_000,
    ],
    ids=["no-at", "labels", "signature-spaces", "digits", "apostrophes"],
)
def test_hostile_records_are_scanned_once(text: str) -> None:
    found = Detector({"Ann": "participant"}).find(text)  # quadratic work would not return
    assert all(f.end - f.start <= 260 or f.kind == "url" for f in found)
