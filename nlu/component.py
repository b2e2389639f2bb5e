"""The spaCy pipeline component that scores intents: `switchboard_intents`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch

from nlu.classifier import LinearModel, Progress, TrainConfig
from nlu.errors import ModelFormatError
from nlu.features import FeatureSpace, doc_tokens, string_features

COMPONENT_NAME = "switchboard_intents"
KNOWN_FEATURES = "switchboard.known_features"


class IntentClassifier:
    """Scores every intent label for a doc and writes them to `doc.cats`.

    It is trained outside spaCy's update loop (`fit`), and stores its vocabulary and weights
    with `to_disk`, so the whole pipeline saves and loads with `nlp.to_disk`/`spacy.load`.
    """

    def __init__(self, nlp: Language, name: str = COMPONENT_NAME) -> None:
        self.name = name
        self.labels: list[str] = []
        self.space: FeatureSpace | None = None
        self.models: list[LinearModel] = []

    @property
    def is_trained(self) -> bool:
        return self.space is not None and bool(self.models)

    def features(self, doc: Doc) -> list[str]:
        return string_features(doc_tokens(doc))

    def predict_proba(self, docs: Sequence[Doc]) -> NDArray[np.float32]:
        """Averaged class probabilities of the ensemble, one row per doc.

        Also records in `doc.user_data[KNOWN_FEATURES]` how many of the doc's features the
        model knows: with none, the scores are only the class priors.
        """
        if self.space is None or not self.models:
            raise ModelFormatError("the intent classifier has not been trained")
        rows = self.space.vectorise([self.features(doc) for doc in docs])
        for doc, known in zip(docs, np.diff(rows.ptr).tolist(), strict=True):
            doc.user_data[KNOWN_FEATURES] = known
        proba = self.models[0].predict_proba(rows)
        for model in self.models[1:]:
            proba += model.predict_proba(rows)
        if len(self.models) > 1:
            proba /= len(self.models)
        return proba

    def _set_cats(self, docs: Sequence[Doc]) -> None:
        proba = self.predict_proba(docs)
        for doc, row in zip(docs, proba.tolist(), strict=True):
            doc.cats = dict(zip(self.labels, row, strict=True))

    def __call__(self, doc: Doc) -> Doc:
        self._set_cats([doc])
        return doc

    def pipe(self, docs: Iterable[Doc], *, batch_size: int = 256) -> Iterator[Doc]:
        for batch in minibatch(docs, size=batch_size):
            self._set_cats(batch)
            yield from batch

    def fit(
        self,
        docs: Sequence[Doc],
        labels: Sequence[str],
        *,
        config: TrainConfig | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Learn the feature vocabulary and the weights from labelled docs."""
        config = config or TrainConfig()
        self.labels = sorted(set(labels))
        index = {label: i for i, label in enumerate(self.labels)}
        y = np.array([index[label] for label in labels], dtype=np.int64)
        feats = [self.features(doc) for doc in docs]
        self.space = FeatureSpace.fit(feats)
        rows = self.space.vectorise(feats)
        self.models = [
            LinearModel.fit(
                rows, y, len(self.space), len(self.labels), config, progress=progress
            )
        ]

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.space is None:
            raise ModelFormatError("cannot save an untrained intent classifier")
        (path / "labels.json").write_text(json.dumps(self.labels), encoding="utf-8")
        (path / "features.txt").write_text("\n".join(self.space.names), encoding="utf-8")
        np.save(path / "idf.npy", self.space.idf.astype(np.float16))
        for i, model in enumerate(self.models):
            model.save(path / f"model{i}.npz")

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> IntentClassifier:
        path = Path(path)
        try:
            self.labels = json.loads((path / "labels.json").read_text(encoding="utf-8"))
            names = (path / "features.txt").read_text(encoding="utf-8").split("\n")
            idf = np.load(path / "idf.npy").astype(np.float32)
            self.space = FeatureSpace(names, idf)
            self.models = [
                LinearModel.load(p) for p in sorted(path.glob("model*.npz"))
            ]
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFormatError(f"cannot read the intent classifier in {path}: {exc}") from exc
        if not self.models:
            raise ModelFormatError(f"no weights in {path}")
        return self


@Language.factory(COMPONENT_NAME)
def make_intent_classifier(nlp: Language, name: str) -> IntentClassifier:
    """spaCy factory for `nlp.add_pipe("switchboard_intents")`."""
    return IntentClassifier(nlp, name)
