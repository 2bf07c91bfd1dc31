"""Twelve synthetic interviews in three roles, and helpers to run and read the local synthesizer."""

from __future__ import annotations

import re

from persona.providers.local import LocalProvider
from persona.schemas import Evidence, GenerationConfig, PersonaContent

# Four participants per role; participant i says GOALS[role][i], PAINS[role][i], ...
GOALS = {
    "nurse": [
        "I want the medication chart to update on the ward tablet.",
        "I need handover notes for my patients in one place.",
        "My goal is to finish charting before the ward shift ends.",
        "I wish the rota showed swaps for night shifts on the ward.",
    ],
    "accountant": [
        "I want invoices to reconcile against the ledger automatically.",
        "I need the VAT return figures pulled from the invoices.",
        "My goal is to close the ledger two days after month end.",
        "I wish the expense reports matched the ledger codes.",
    ],
    "driver": [
        "I want the route to skip roadworks near the depot.",
        "I need parcel scans to work when the van has no signal.",
        "My goal is to finish the route before the depot closes.",
        "I wish the traffic alerts came before I leave the depot.",
    ],
}
PAINS = {
    "nurse": [
        "It is frustrating when the ward tablet logs me out mid-shift.",
        "Finding the medication history is slow during ward rounds.",
        "The rota app is hard to use with gloves on the ward.",
        "I hate re-typing patient vitals twice in the chart.",
    ],
    "accountant": [
        "It is frustrating when invoices arrive without purchase order numbers.",
        "Matching ledger entries by hand is slow at month end.",
        "The VAT screen is hard to read with so many invoice columns.",
        "I hate exporting the ledger to spreadsheets just to filter it.",
    ],
    "driver": [
        "It is frustrating when the van scanner rejects a parcel label.",
        "Loading the route at the depot is slow every single morning.",
        "The map is hard to read while the van is moving in traffic.",
        "I hate when parcels are loaded in the wrong order for the route.",
    ],
}
BEHAVIOURS = {
    "nurse": [
        "I usually chart vitals right after each patient round.",
        "Every morning I check the rota before my ward shift.",
        "I always print the handover sheet for the ward.",
        "We always review medication at the nurses' station.",
    ],
    "accountant": [
        "I usually reconcile invoices on Monday mornings.",
        "Every week I export the ledger for the finance director.",
        "I always double-check the VAT figures against invoices.",
        "We always close the ledger together in the finance team.",
    ],
    "driver": [
        "I usually plan the route over coffee at the depot.",
        "Every morning I load the van parcels by postcode.",
        "I always photograph the parcel at the door for proof.",
        "We always swap routes in the depot group chat.",
    ],
}
NEUTRAL = {
    "nurse": "The ward has twelve beds and a small kitchen for the nurses.",
    "accountant": "The finance team sits next to the ledger archive room.",
    "driver": "The depot has forty vans and a canteen near the loading bay.",
}
AGES = {"nurse": [29, 34, 41, 52], "accountant": [31, 38, 45, 60], "driver": [23, 27, 36, 48]}
ROLES = sorted(GOALS)


def interviews() -> list[Evidence]:
    """Twelve participants (four per role), three records each, with role-specific words."""
    records: list[Evidence] = []
    for role in ROLES:
        for i in range(4):
            participant = f"{role[:1].upper()}{i + 1}"
            attributes = {
                "role": role,
                "age": str(AGES[role][i]),
                "email": f"{participant.lower()}@example.com",
                "background": "Recruited through the newsletter; prefers afternoon calls.",
            }
            texts = [
                f"{GOALS[role][i]} {NEUTRAL[role]}",
                PAINS[role][i],
                f"Well, let me think.\n{BEHAVIOURS[role][i]}",
            ]
            for turn, text in enumerate(texts):
                records.append(
                    Evidence(
                        id=f"{participant}-{turn}",
                        source=f"{role}.csv",
                        locator=f"row {turn + 2}",
                        participant=participant,
                        text=text,
                        attributes=attributes,
                    )
                )
    return records


def role_of(evidence_id: str) -> str:
    return {"N": "nurse", "A": "accountant", "D": "driver"}[evidence_id[0]]


async def generate(evidence: list[Evidence], **config: object) -> list[PersonaContent]:
    result = await LocalProvider().generate(evidence, GenerationConfig(**config))  # type: ignore[arg-type]
    return result.personas


def dumped(personas: list[PersonaContent]) -> list[str]:
    return [persona.model_dump_json() for persona in personas]


def title_terms(title: str) -> list[str]:
    """The noun phrases of a title built from the text: 'Focused on a and b'."""
    return re.split(r", | and ", title.removeprefix("Focused on "))


def by_title(personas: list[PersonaContent]) -> dict[str, PersonaContent]:
    return {persona.title: persona for persona in personas}
