"""Sources full of planted personal data, and every planted value, for the privacy tests."""

from __future__ import annotations

from pathlib import Path

SURVEY = "\n".join(
    [
        "respondent,role,answer",
        'Dana Whitfield,operations,"Email me at dana.whitfield@northwind.example.com and I will '
        'send the export; Northwind Traders pays for the seats."',
        'P-0417,analyst,"Call me on +44 20 7946 0958 after three, because the dashboard at '
        'https://intranet.northwind.io/reports is slow every morning."',
        'Marek Nowak,finance,"Refunds went to IBAN GB82 WEST 1234 5698 7654 32 and the card '
        '4111 1111 1111 1111 was charged twice last month."',
        'Ines Duarte,it,"Our VPN gateway 10.20.30.40 drops me when I work from home, and Dana '
        'Whitfield has the same problem with it."',
        "",
    ]
)

TRANSCRIPT = """# Mobile interview

**Interviewer:** Hi Priya, thanks for joining. How do you sign in?
**Priya Raman:** Hi Sarah, happy to help. I mostly use the mobile app on the train to work.
**Interviewer:** What gets in the way?
**Priya Raman:** My number (415) 555-2671 is on the account but the sign-in codes never arrive.
"""

PLANTED = {
    "participant": ["Dana Whitfield", "P-0417", "Marek Nowak", "Ines Duarte", "Priya Raman"],
    "name": ["Northwind Traders", "Sarah", "Priya"],
    "email": ["dana.whitfield@northwind.example.com"],
    "phone": ["+44 20 7946 0958", "(415) 555-2671"],
    "url": ["https://intranet.northwind.io/reports"],
    "ip": ["10.20.30.40"],
    "card": ["4111 1111 1111 1111"],
    "iban": ["GB82 WEST 1234 5698 7654 32"],
}
"""Every planted value by kind: none of them may reach a provider."""

FRAGMENTS = ["Whitfield", "Nowak", "Duarte", "Raman", "northwind", "7946", "555-2671", "1111 1111"]
"""Parts of planted values that must not leave either."""

SOURCES = ["survey.csv", "interview.md"]


def write_sources(data_dir: Path) -> None:
    (data_dir / "survey.csv").write_text(SURVEY, encoding="utf-8")
    (data_dir / "interview.md").write_text(TRANSCRIPT, encoding="utf-8")
