"""Writes the ten domain sets beside this file from the hand-written ``domain_pools.py``.

    python tests/data/labelled/make_domain_sets.py

Same key format as ``make_sets.py``: ``segments`` maps each participant to its true segment,
``sections`` maps each sentence used to its true section. The sets vary what the first five
hold steady: short survey answers, long Markdown transcripts, participant and grouping
columns under other names (``person``, ``Customer Type``, ``Case ID``...) or no grouping
column at all, 6 to 39 participants. The draw is seeded, so rerunning gives the same files.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from domain_pools import (
    B2B,
    B2B_SHORT,
    BEHAVIOUR,
    EDUCATION,
    FINANCE,
    FINANCE_SHORT,
    GOAL,
    HEALTH,
    HEALTH_SHORT,
    INTERVIEWER_PROMPTS,
    NONE,
    PAIN,
    PUBLIC,
    PUBLIC_SHORT,
)
from make_sets import _write_csv, _write_key

HERE = Path(__file__).parent
SECTIONS = (GOAL, PAIN, BEHAVIOUR)
Pool = dict[str, dict[str, list[str]]]


class Draw:
    def __init__(self, seed: int, pool: Pool) -> None:
        self.rng = random.Random(seed)
        self.pool = pool
        self.sections: dict[str, str] = {}
        self.used: dict[str, set[str]] = {}

    def people(self, per_segment: int, ids: list[str] | None = None) -> list[tuple[str, str]]:
        order = [segment for segment in self.pool for _ in range(per_segment)]
        self.rng.shuffle(order)
        names = ids or [f"{n + 1:02d}" for n in range(len(order))]
        return list(zip(names, order, strict=False))

    def sentence(self, pid: str, segment: str, section: str) -> str:
        """A sentence of ``section`` this participant has not said yet."""
        said = self.used.setdefault(pid, set())
        choices = [s for s in self.pool[segment][section] if s not in said]
        text = self.rng.choice(choices or self.pool[segment][section])
        said.add(text)
        self.sections[text] = section
        return text

    def answer(self, pid: str, segment: str, sentences: int) -> str:
        """One record: a goal, pain point or behaviour, sometimes with context around it."""
        parts = []
        for _ in range(sentences):
            section = self.rng.choice((*SECTIONS, NONE) if parts else SECTIONS)
            if section == NONE and NONE not in self.pool[segment]:
                section = self.rng.choice(SECTIONS)
            parts.append(self.sentence(pid, segment, section))
        return " ".join(parts)


def short_survey(name: str, pool: Pool, seed: int, per_segment: int, columns: tuple[str, ...],
                 grouped: bool) -> None:  # fmt: skip
    """Clipped answers, one per question, two or three questions answered each."""
    draw = Draw(seed, pool)
    questions = {GOAL: "What would help most?", PAIN: "What is hardest?",
                 BEHAVIOUR: "How do you do it today?"}  # fmt: skip
    rows, key = [], {}
    for pid, segment in draw.people(per_segment):
        key[pid] = segment
        answered = [s for s in SECTIONS if draw.rng.random() < 0.8] or [GOAL, PAIN]
        for section in answered:
            row = {columns[0]: pid}
            if grouped:
                row[columns[1]] = segment
            row["question"] = questions[section]
            row["answer"] = draw.sentence(pid, segment, section)
            rows.append(row)
    _write_csv(HERE / name / "answers.csv", rows)
    _write_key(HERE / name, key, draw.sections)


def record_csv(name: str, pool: Pool, seed: int, per_segment: int, columns: tuple[str, ...],
               grouped: bool, extra: str | None = None) -> None:  # fmt: skip
    """Three to five records of one to three sentences each per participant."""
    draw = Draw(seed, pool)
    rows, key = [], {}
    for pid, segment in draw.people(per_segment):
        key[pid] = segment
        years = draw.rng.randint(1, 20)
        for section in _sections_for(draw):
            row: dict[str, object] = {columns[0]: pid}
            if grouped:
                row[columns[1]] = segment
            if extra:
                row[extra] = years
            first = draw.sentence(pid, segment, section)
            more = (
                draw.answer(pid, segment, draw.rng.randint(0, 2)) if draw.rng.random() < 0.6 else ""
            )
            row[columns[-1]] = f"{first} {more}".strip()
            rows.append(row)
    _write_csv(HERE / name / "responses.csv", rows)
    _write_key(HERE / name, key, draw.sections)


def transcripts(name: str, pool: Pool, seed: int, per_segment: int, names: list[str]) -> None:
    """One Markdown transcript per participant: five or six long turns, no grouping column."""
    draw = Draw(seed, pool)
    key = {}
    folder = HERE / name
    for pid, segment in draw.people(per_segment, names):
        key[pid] = segment
        lines = [f"# Interview with {pid}", ""]
        for turn, section in enumerate([*_sections_for(draw), draw.rng.choice(SECTIONS)]):
            sentences = [draw.sentence(pid, segment, section)]
            if turn == 0:
                sentences.insert(0, draw.sentence(pid, segment, NONE))
            sentences.append(draw.answer(pid, segment, draw.rng.randint(1, 3)))
            prompt = INTERVIEWER_PROMPTS[turn % len(INTERVIEWER_PROMPTS)]
            lines += [f"**Interviewer:** {prompt}", "", f"**{pid}:** {' '.join(sentences)}", ""]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{pid.lower()}.md").write_text("\n".join(lines))
    _write_key(folder, key, draw.sections)


def _sections_for(draw: Draw) -> list[str]:
    """Every section once, in random order, sometimes one more."""
    order = list(SECTIONS)
    draw.rng.shuffle(order)
    if draw.rng.random() < 0.5:
        order.append(draw.rng.choice(SECTIONS))
    return order


NURSES_AND_PATIENTS = [
    "Aisha",
    "Bernard",
    "Carol",
    "Dev",
    "Elif",
    "Frank",
    "Grace",
    "Hamid",
    "Iris",
]
TEACHERS_AND_PARENTS = ["Joanna", "Kwame", "Lena", "Marcus", "Nadia", "Owen"]

SETS = {
    "health_survey": lambda: short_survey("health_survey", HEALTH_SHORT, 31, 10,
                                          ("Respondent",), grouped=False),
    "health_transcripts": lambda: transcripts("health_transcripts", HEALTH, 32, 3,
                                              NURSES_AND_PATIENTS),
    "finance_department": lambda: record_csv("finance_department", FINANCE, 33, 8,
                                             ("person", "Occupation", "comment"), grouped=True,
                                             extra="years"),
    "finance_short": lambda: short_survey("finance_short", FINANCE_SHORT, 34, 12,
                                          ("Name", "Customer Type"), grouped=True),
    "education_transcripts": lambda: transcripts("education_transcripts", EDUCATION, 35, 3,
                                                 TEACHERS_AND_PARENTS),
    "education_unusual_group": lambda: record_csv("education_unusual_group", EDUCATION, 36, 8,
                                                  ("Interviewee", "relationship_to_school",
                                                   "what they said"), grouped=True),
    "b2b_short": lambda: short_survey("b2b_short", B2B_SHORT, 37, 13, ("user",), grouped=False),
    "b2b_team": lambda: record_csv("b2b_team", B2B, 38, 6, ("customer_id", "Team", "notes"),
                                   grouped=True),
    "public_no_group": lambda: record_csv("public_no_group", PUBLIC, 39, 7, ("Case ID", "text"),
                                          grouped=False),
    "public_short": lambda: short_survey("public_short", PUBLIC_SHORT, 40, 10,
                                         ("respondent_id", "Visitor Type"), grouped=True),
}  # fmt: skip

if __name__ == "__main__":
    for name, write in SETS.items():
        shutil.rmtree(HERE / name, ignore_errors=True)
        write()
