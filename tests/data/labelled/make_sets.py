"""Writes the labelled sets beside this file from the hand-written pools in ``pools.py``.

    python tests/data/labelled/make_sets.py

Each set is a folder of sources plus ``key.json``: ``segments`` maps each participant (or,
for records without one, the source file) to its true segment, and ``sections`` maps each
sentence used to its true section. The draw is seeded, so rerunning gives the same files.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

from pools import BEHAVIOUR, CONTEXT_PAIRS, GOAL, NEAR_DUPLICATES, NONE, PAIN, SEGMENTS, SHARED

HERE = Path(__file__).parent
SECTIONS = (GOAL, PAIN, BEHAVIOUR, NONE)
AGES = {"Warehouse shift lead": (28, 52), "Freelance designer": (24, 41),
        "Clinic practice manager": (38, 61)}  # fmt: skip
ROLES = {
    "Warehouse shift lead": ("Shift lead", "Team leader", "Warehouse supervisor"),
    "Freelance designer": ("Designer", "Illustrator", "Brand designer"),
    "Clinic practice manager": ("Practice manager", "Clinic manager", "Office manager"),
}
PLANS = ("Free", "Pro", "Team")


class Draw:
    """Sentences for participants, recording each sentence's true section."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sections: dict[str, str] = {}

    def sentence(self, segment: str, section: str) -> str:
        text = self.rng.choice(SEGMENTS[segment][section])
        self.sections[text] = section
        return text

    def records(self, segment: str, index: int, sentences_per_record: int = 2) -> list[str]:
        """Four records for one participant: every section at least once, in random order."""
        order = list(SECTIONS)
        self.rng.shuffle(order)
        records = []
        for section in order:
            sentences = [self.sentence(segment, section)]
            while len(sentences) < sentences_per_record:
                extra = self.sentence(segment, self.rng.choice(SECTIONS))
                if extra not in sentences:
                    sentences.append(extra)
            records.append(" ".join(sentences))
        section = self.rng.choice(SECTIONS)
        shared = self.rng.choice(SHARED[section])
        self.sections[shared] = section
        records.insert(self.rng.randrange(len(records) + 1), shared)
        if index == 1:  # a line that only makes sense after the one before it
            first, second, section = CONTEXT_PAIRS[segment]
            self.sections[first] = NONE
            self.sections[second] = section
            records.append(f"{first} {second}")
        if index in (2, 3):  # two participants say the same thing in almost the same words
            text = NEAR_DUPLICATES[segment][index - 2]
            self.sections[text] = self.sections.get(text) or _section_in_pool(segment, text)
            records.append(text)
        return records


def _section_in_pool(segment: str, text: str) -> str:
    base = NEAR_DUPLICATES[segment][0]
    return next(s for s in SECTIONS if base in SEGMENTS[segment][s])


def participants(per_segment: int, prefix: str, draw: Draw) -> list[tuple[str, str, int]]:
    """(id, segment, index within segment), ids shuffled across segments."""
    people = [(segment, i) for segment in SEGMENTS for i in range(per_segment)]
    draw.rng.shuffle(people)
    width = len(str(len(people)))
    return [(f"{prefix}{n + 1:0{width}d}", s, i) for n, (s, i) in enumerate(people)]


def interview_sets() -> None:
    draw = Draw(15)
    rows = []
    for pid, segment, index in participants(8, "P", draw):
        low, high = AGES[segment]
        age, tenure = draw.rng.randint(low, high), draw.rng.randint(1, 15)
        for text in draw.records(segment, index):
            rows.append({"participant": pid, "segment": segment, "age": age,
                         "tenure_years": tenure, "text": text})  # fmt: skip
    key = {r["participant"]: r["segment"] for r in rows}
    _write_csv(HERE / "segment_column" / "interviews.csv", rows)
    _write_key(HERE / "segment_column", key, draw.sections)
    for row in rows:
        del row["segment"]
    _write_csv(HERE / "no_segment_column" / "interviews.csv", rows)
    _write_key(HERE / "no_segment_column", key, draw.sections)


def mixed_set() -> None:
    """The same participants across a CSV, a JSON export and Markdown transcripts, plus a
    CSV of site observations that names no participant."""
    folder = HERE / "mixed"
    draw = Draw(16)
    csv_rows, answers, key = [], [], {}
    for pid, segment, index in participants(5, "M", draw):
        key[pid] = segment
        records = draw.records(segment, index)
        low, high = AGES[segment]
        role = draw.rng.choice(ROLES[segment])
        age = draw.rng.randint(low, high)
        for text in records[:2]:
            csv_rows.append({"participant": pid, "role": role, "age": age, "text": text})
        answers.append({"respondent": pid, "question": "What would make your week easier?",
                        "answer": records[2]})  # fmt: skip
        turns = records[3:]
        if index < 2:
            _write_transcript(folder / f"interview-{pid.lower()}.md", pid, turns)
        else:
            answers += [{"respondent": pid, "question": "Anything else?", "answer": text}
                        for text in turns]  # fmt: skip
    _write_csv(folder / "interviews.csv", csv_rows)
    (folder / "answers.json").write_text(json.dumps({"responses": answers}, indent=1) + "\n")
    notes = [{"site": "North depot", "note": draw.sentence("Warehouse shift lead", section)}
             for section in SECTIONS * 2]  # fmt: skip
    _write_csv(folder / "observations.csv", notes)
    key["observations.csv"] = "Warehouse shift lead"
    _write_key(folder, key, draw.sections)


def survey_set() -> None:
    """Short single-sentence answers, two or three per respondent."""
    draw = Draw(17)
    rows, key = [], {}
    questions = ("What do you want from the tool?", "What gets in your way?",
                 "How do you work today?")  # fmt: skip
    for pid, segment, _ in participants(20, "S", draw):
        key[pid] = segment
        low, high = AGES[segment]
        age, plan = draw.rng.randint(low, high), draw.rng.choice(PLANS)
        for question, section in zip(questions, (GOAL, PAIN, BEHAVIOUR), strict=True):
            if draw.rng.random() < 0.85:
                rows.append({"respondent": pid, "plan": plan, "age": age, "question": question,
                             "answer": draw.sentence(segment, section)})  # fmt: skip
    _write_csv(HERE / "survey" / "survey.csv", rows)
    _write_key(HERE / "survey", key, draw.sections)


def partly_segmented_set() -> None:
    """Interviews with a segment column beside a survey of other people that has none:
    the survey's respondents must join the segments their words belong to."""
    folder = HERE / "partly_segmented"
    draw = Draw(18)
    rows, answers, key = [], [], {}
    for pid, segment, index in participants(6, "I", draw):
        key[pid] = segment
        for text in draw.records(segment, index)[:3]:
            rows.append({"participant": pid, "segment": segment, "text": text})
    for pid, segment, _ in participants(4, "R", draw):
        key[pid] = segment
        plan = draw.rng.choice(PLANS)
        for section in (GOAL, PAIN, BEHAVIOUR):
            answers.append({"respondent": pid, "plan": plan,
                            "answer": draw.sentence(segment, section)})  # fmt: skip
    _write_csv(folder / "interviews.csv", rows)
    _write_csv(folder / "survey.csv", answers)
    _write_key(folder, key, draw.sections)


def _write_transcript(path: Path, pid: str, turns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Follow-up interview", ""]
    for text in turns:
        lines += ["**Interviewer:** Tell me more about that.", "", f"**{pid}:** {text}", ""]
    path.write_text("\n".join(lines))


def _write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _write_key(folder: Path, segments: dict[str, str], sections: dict[str, str]) -> None:
    key = {"segments": dict(sorted(segments.items())), "sections": dict(sorted(sections.items()))}
    (folder / "key.json").write_text(json.dumps(key, indent=1) + "\n")


if __name__ == "__main__":
    for name in ("segment_column", "no_segment_column", "mixed", "survey", "partly_segmented"):
        shutil.rmtree(HERE / name, ignore_errors=True)
    interview_sets()
    mixed_set()
    survey_set()
    partly_segmented_set()
