"""The spaCy pipeline and the `SpacyUnderstander` that the rest of Switchboard calls.

A model root (for example `var/models/nlu`) holds versioned model directories written by
`nlu.train` and a `current` file naming the one in use. `load` reads a model once; parsing is
then pure computation: tokenise, score intents, apply the entity rules.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import spacy
from spacy.language import Language
from spacy.tokens import Doc

from nlu.component import COMPONENT_NAME, KNOWN_FEATURES, SCORES, IntentClassifier
from nlu.entities import EntityExtractor, set_spans
from nlu.errors import ModelFormatError, ModelNotFoundError, NLUError
from nlu.language import detect_language
from nlu.text import sanitize
from nlu.tokenizer import TOKENIZER_NAME
from nlu.types import CatalogEntry, Entity, IntentName, Understanding

CURRENT_FILE = "current"
META_FILE = "meta.json"
META_KEY = "switchboard"
N_ALTERNATIVES = 4


def build_blank() -> Language:
    """An untrained pipeline: the mixed English/Chinese tokenizer and the intent component."""
    nlp = spacy.blank("en", config={"nlp": {"tokenizer": {"@tokenizers": TOKENIZER_NAME}}})
    nlp.add_pipe(COMPONENT_NAME)
    return nlp


def resolve_model_dir(path: Path) -> Path:
    """The version directory `path` stands for: itself, or the one its `current` file names."""
    path = Path(path)
    if (path / "config.cfg").is_file() and (path / "meta.json").is_file():
        return path
    pointer = path / CURRENT_FILE
    if pointer.is_file():
        version = pointer.read_text(encoding="utf-8").strip()
        target = path / version
        if version and (target / "config.cfg").is_file():
            return target
    raise ModelNotFoundError(path)


def _as_tz(value: tzinfo | str | None) -> tzinfo:
    if value is None:
        return UTC
    if isinstance(value, str):
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise NLUError(f"unknown timezone {value!r}") from exc
    return value


class SpacyUnderstander:
    """Turns chat text into an `Understanding` (satisfies `nlu.types.Understander`).

    Args:
        nlp: a trained pipeline from `build_blank` + `nlu.train`.
        threshold: the calibrated confidence threshold stored with the model.
        version: the model version (its directory name).
        timezone: zone in which relative times ("tomorrow 9am") are resolved; UTC by default.
        country_code: calling code for phone numbers written without one ("1" by default).
    """

    def __init__(
        self,
        nlp: Language,
        *,
        threshold: float,
        version: str,
        timezone: tzinfo | str | None = None,
        country_code: str = "1",
    ) -> None:
        self.nlp = nlp
        self.version = version
        self.timezone = _as_tz(timezone)
        self._threshold = float(threshold)
        classifier = nlp.get_pipe(COMPONENT_NAME)
        if not isinstance(classifier, IntentClassifier):
            raise ModelFormatError(f"pipeline has no {COMPONENT_NAME} component")
        self.classifier = classifier
        self.labels = list(classifier.labels)
        self.entities = EntityExtractor(nlp.vocab, nlp.make_doc, country_code=country_code)
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        """Confidence below which the router should ask rather than act."""
        return self._threshold

    def set_services(self, entries: Iterable[CatalogEntry]) -> None:
        """Replace the services (names and aliases) recognised as `service`; no retraining."""
        self.entities.set_services(entries)

    def set_catalog(self, entries: Iterable[CatalogEntry]) -> None:
        """Replace the service-catalog items recognised as `catalog_item`; no retraining."""
        self.entities.set_catalog(entries)

    def _now(self, now: datetime | None) -> datetime:
        if now is None:
            return datetime.now(self.timezone)
        if now.tzinfo is None:
            return now.replace(tzinfo=self.timezone)
        return now

    def _ranked(self, doc: Doc) -> list[tuple[str, float]]:
        """The best labels with their scores, best first (enough for the alternatives)."""
        scores = doc.user_data[SCORES]
        top = np.argsort(-scores, kind="stable")[: N_ALTERNATIVES + 2]
        labels = self.labels
        ranked = [(labels[i], float(scores[i])) for i in top]
        if not doc.user_data.get(KNOWN_FEATURES, 1):
            # Nothing the model knows (empty, emoji only, unknown script): the scores would be
            # class priors, so say out of scope rather than guess.
            ranked = [(IntentName.OUT_OF_SCOPE.value, 0.0)] + [
                (label, score) for label, score in ranked if label != IntentName.OUT_OF_SCOPE
            ]
        return ranked

    def analyse(
        self,
        docs: Sequence[Doc],
        *,
        now: datetime | None = None,
        texts: Sequence[str] | None = None,
    ) -> list[tuple[list[tuple[str, float]], list[Entity], str]]:
        """Ranked labels, entities and language of docs scored by the pipeline.

        `texts`, when given, are the docs' texts: it spares rebuilding them from the tokens.
        """
        moment = self._now(now)
        out = []
        for i, doc in enumerate(docs):
            text = doc.text if texts is None else texts[i]
            language = detect_language(text)
            entities = self.entities.extract(doc, language=language, now=moment, text=text)
            set_spans(doc, entities)
            out.append((self._ranked(doc), entities, language))
        return out

    def _understanding(
        self, text: str, ranked: list[tuple[str, float]], entities: list[Entity], language: str
    ) -> Understanding:
        intents = [(IntentName(label), score) for label, score in ranked if label in _INTENTS]
        if not intents:
            intents = [(IntentName.OUT_OF_SCOPE, 0.0)]
        top, confidence = intents[0]
        return Understanding(
            text=text,
            intent=top,
            confidence=float(confidence),
            alternatives=tuple((i, float(c)) for i, c in intents[1 : 1 + N_ALTERNATIVES]),
            entities=tuple(entities),
            language=language,
            threshold=self._threshold,
        )

    def parse(self, text: str, *, now: datetime | None = None) -> Understanding:
        """Understand one message. Never raises on odd input (empty, binary, huge)."""
        clean = sanitize(text)
        doc = self.nlp(clean)
        ((ranked, entities, language),) = self.analyse([doc], now=now, texts=[clean])
        return self._understanding(clean, ranked, entities, language)

    def parse_many(
        self, texts: Sequence[str], *, now: datetime | None = None
    ) -> list[Understanding]:
        """Understand many messages at once (batched through `nlp.pipe`)."""
        clean = [sanitize(t) for t in texts]
        docs = list(self.nlp.pipe(clean, batch_size=256))
        return [
            self._understanding(text, ranked, entities, language)
            for text, (ranked, entities, language) in zip(
                clean, self.analyse(docs, now=now, texts=clean), strict=True
            )
        ]

    def classify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """Top label and confidence per text, for any label set (used by evaluation)."""
        docs = self.nlp.pipe([sanitize(t) for t in texts], batch_size=256)
        return [self._ranked(doc)[0] for doc in docs]


_INTENTS = frozenset(i.value for i in IntentName)


def read_meta(model_dir: Path) -> dict[str, Any]:
    """The Switchboard part of a model's `meta.json` (threshold, data hash, version...)."""
    try:
        meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"cannot read {model_dir / 'meta.json'}: {exc}") from exc
    info = meta.get(META_KEY)
    if not isinstance(info, dict):
        raise ModelFormatError(f"{model_dir} is not a Switchboard NLU model")
    return info


def load(
    path: Path, *, timezone: tzinfo | str | None = None, country_code: str = "1"
) -> SpacyUnderstander:
    """Load the current model under a model root, or a version directory itself.

    Raises:
        ModelNotFoundError: nothing trained there yet (run `switchboard nlu train`).
        ModelFormatError: a model is there but cannot be read.
    """
    model_dir = resolve_model_dir(Path(path))
    info = read_meta(model_dir)
    try:
        nlp = spacy.load(model_dir)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFormatError(f"cannot load the NLU model in {model_dir}: {exc}") from exc
    return SpacyUnderstander(
        nlp,
        threshold=float(info.get("threshold", 0.0)),
        version=str(info.get("model_version", model_dir.name)),
        timezone=timezone,
        country_code=country_code,
    )
