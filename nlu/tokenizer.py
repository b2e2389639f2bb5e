"""A tokenizer for English and Chinese in one pipeline.

spaCy's English rules split Latin text; every Han character (and CJK punctuation) then becomes a
token of its own, as spaCy's own Chinese "char" segmenter does, so no word-segmentation model is
needed and a Chinese alias such as "邮箱" or a Latin name inside Chinese ("VPN连不上") still lines
up with token boundaries for the phrase matchers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokenizer import Tokenizer  # type: ignore[import-not-found]
from spacy.tokens import Doc
from spacy.util import registry

TOKENIZER_NAME = "switchboard.mixed_tokenizer.v1"

_CJK_CHAR = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_HAS_CJK = re.compile(f"[{_CJK_CHAR}]")
_PIECES = re.compile(f"[{_CJK_CHAR}]|[^{_CJK_CHAR}]+")


class MixedTokenizer:
    """spaCy's rule-based tokenizer, with CJK runs split into single characters."""

    def __init__(self, base: Tokenizer) -> None:
        self.base = base
        self.vocab = base.vocab

    def __call__(self, text: str) -> Doc:
        """Tokenise `text`; a text without CJK characters gets spaCy's tokens unchanged."""
        doc: Doc = self.base(text)
        if not _HAS_CJK.search(text):
            return doc
        words: list[str] = []
        spaces: list[bool] = []
        for token in doc:
            if not _HAS_CJK.search(token.text):
                words.append(token.text)
                spaces.append(bool(token.whitespace_))
                continue
            pieces = _PIECES.findall(token.text)
            words.extend(pieces)
            spaces.extend([False] * (len(pieces) - 1))
            spaces.append(bool(token.whitespace_))
        return Doc(self.vocab, words=words, spaces=spaces)

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterable[Doc]:
        """Tokenise texts one at a time, as spaCy's own tokenizer does in `pipe`."""
        for text in texts:
            yield self(text)

    def to_bytes(self, **kwargs: Any) -> bytes:
        """The base tokenizer's rules; the CJK split needs no state of its own."""
        data: bytes = self.base.to_bytes(**kwargs)
        return data

    def from_bytes(self, data: bytes, **kwargs: Any) -> MixedTokenizer:
        """Restore the base tokenizer's rules from `to_bytes` output."""
        self.base.from_bytes(data, **kwargs)
        return self

    def to_disk(self, path: str | Path, **kwargs: Any) -> None:
        """Save the base tokenizer's rules, for `nlp.to_disk`."""
        self.base.to_disk(path, **kwargs)

    def from_disk(self, path: str | Path, **kwargs: Any) -> MixedTokenizer:
        """Load the base tokenizer's rules, for `spacy.load`."""
        self.base.from_disk(path, **kwargs)
        return self


@registry.tokenizers(TOKENIZER_NAME)  # type: ignore[untyped-decorator]
def create_mixed_tokenizer() -> Callable[[Language], MixedTokenizer]:
    """Factory referenced from the pipeline config as `@tokenizers = TOKENIZER_NAME`."""
    make_base = registry.tokenizers.get("spacy.Tokenizer.v1")()

    def make(nlp: Language) -> MixedTokenizer:
        return MixedTokenizer(make_base(nlp))

    return make
