"""Counting a prompt's tokens offline.

With the ``tokens`` extra installed, text is counted with the ``o200k_base`` encoding, which
``bpe-openai`` ships inside its wheel (nothing is downloaded at run time; ``tiktoken`` would
fetch its files on first use). It is the encoding of OpenAI's current models, and an
approximation for other providers' models, whose tokenizers are not published. Without the
extra, tokens are estimated from characters (``CHARS_PER_TOKEN``, the pipeline's own
generous figure). ``benchmarks/estimate.py`` measures both against reported usage.
"""

from __future__ import annotations

import functools
import importlib
import math
import warnings
from typing import Literal, Protocol, cast

Method = Literal["tokenizer", "characters"]

ENCODING = "o200k_base"
CHARS_PER_TOKEN = 3.5
"""The character estimate's ratio: as ``persona.generation.chunking`` plans with."""
PIECE_CHARS = 100_000
"""Text is encoded in pieces of at most this many characters: the tokenizer refuses inputs
of a million characters or two hundred thousand tokens."""


class _Encoding(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


@functools.cache
def _encoding() -> _Encoding | None:
    with warnings.catch_warnings():
        # It reads its data with importlib.resources.open_binary: deprecated, still working.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            module = importlib.import_module("bpe_openai")
        except ImportError:
            return None
        return cast(_Encoding, module.get_encoding(ENCODING))


def counting_method() -> Method:
    """``tokenizer`` when the offline tokenizer is installed, else ``characters``."""
    return "tokenizer" if _encoding() is not None else "characters"


def count_tokens(text: str) -> int:
    """Tokens of ``text``: counted by the tokenizer when installed, else estimated."""
    encoding = _encoding()
    if encoding is None:
        return math.ceil(len(text) / CHARS_PER_TOKEN)
    return sum(len(encoding.encode_ordinary(piece)) for piece in _pieces(text))


def _pieces(text: str) -> list[str]:
    """``text`` cut at white space into pieces the tokenizer accepts (a cut inside a word
    would count it as two)."""
    pieces = []
    while len(text) > PIECE_CHARS:
        cut = text.rfind(" ", PIECE_CHARS // 2, PIECE_CHARS)
        cut = PIECE_CHARS if cut < 0 else cut
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces
