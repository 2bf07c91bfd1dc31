"""The offline synthesizer's corpus: records split into sentences, each a slice of its record."""

from __future__ import annotations

from persona.generation.local.corpus import read_corpus
from persona.sources.records import make_evidence


def _record(id: str, participant: str, text: str):
    return make_evidence(
        id=id, source="notes.csv", locator=id, participant=participant, text=text, attributes={}
    )


def test_sentences_are_cut_from_their_records_in_order() -> None:
    corpus = read_corpus(
        [
            _record("b", "P2", "Sync fails daily.  It loses my notes!\nI retype them."),
            _record("a", "P1", "I plan on Sundays. "),
        ]
    )
    sentences = corpus.sentence_text
    expected = ["I plan on Sundays.", "Sync fails daily.", "It loses my notes!", "I retype them."]

    assert list(sentences) == expected
    assert len(sentences) == 4
    assert [sentences[i] for i in range(4)] == expected
    assert sentences[-1] == "I retype them."
    assert sentences[1:3] == expected[1:3]
    assert list(sentences.take([3, 0])) == ["I retype them.", "I plan on Sundays."]
    assert corpus.sentence_record == [0, 1, 1, 1]
    # A sentence that refers back is shown with the one before it, cut from the same record.
    assert corpus.line(2) == "Sync fails daily.  It loses my notes!"
