"""The spaCy pipeline component that scores intents: `switchboard_intents`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from spacy.language import Language
from spacy.tokens import Doc

from nlu.classifier import DEFAULT_ENSEMBLE, MODEL_KINDS, Model, Progress, TrainConfig, train
from nlu.errors import ModelFormatError
from nlu.features import FeatureSpace, doc_tokens, string_features

COMPONENT_NAME = "switchboard_intents"
KNOWN_FEATURES = "switchboard.known_features"
SCORES = "switchboard.scores"
LARGE_DATA = 5000
MIN_DF_LARGE = 2
"""On large data sets a feature must occur in two training messages to be kept: it halves
the vocabulary (and the model on disk) at no measurable cost in accuracy."""


class IntentClassifier:
    """Scores every intent label for a doc and writes them to `doc.cats`.

    The same scores, as an array in label order, go to `doc.user_data[SCORES]` for fast
    ranking.

    It is trained outside spaCy's update loop (`fit`), and stores its vocabulary and weights
    with `to_disk`, so the whole pipeline saves and loads with `nlp.to_disk`/`spacy.load`.
    """

    def __init__(self, nlp: Language, name: str = COMPONENT_NAME) -> None:
        self.name = name
        self.labels: list[str] = []
        self.space: FeatureSpace | None = None
        self.configs: list[TrainConfig] = []
        self.models: list[Model] = []

    @property
    def is_trained(self) -> bool:
        """Whether a vocabulary and at least one model are loaded, so docs can be scored."""
        return self.space is not None and bool(self.models)

    def predict_proba(self, docs: Sequence[Doc]) -> NDArray[np.float32]:
        """Averaged class probabilities of the ensemble, one row per doc.

        Also records in `doc.user_data[KNOWN_FEATURES]` how many of the doc's features the
        model knows: with none, the scores are only the class priors.
        """
        if self.space is None or not self.models:
            raise ModelFormatError("the intent classifier has not been trained")
        rows = self.space.vectorise([self.space.feature_ids(doc_tokens(doc)) for doc in docs])
        for doc, known in zip(docs, np.diff(rows.ptr).tolist(), strict=True):
            doc.user_data[KNOWN_FEATURES] = known
        proba = self.models[0].predict_proba(rows)
        for model in self.models[1:]:
            proba += model.predict_proba(rows)
        if len(self.models) > 1:
            proba /= len(self.models)
        return proba

    def _set_cats(self, docs: Sequence[Doc]) -> None:
        """Write the scores of a batch to each doc's `cats` and `user_data[SCORES]`."""
        proba = self.predict_proba(docs)
        for doc, row, values in zip(docs, proba, proba.tolist(), strict=True):
            doc.cats = dict(zip(self.labels, values, strict=True))
            doc.user_data[SCORES] = row

    def __call__(self, doc: Doc) -> Doc:
        """Score one doc, as spaCy does when the pipeline is called on a single text."""
        self._set_cats([doc])
        return doc

    def pipe(self, docs: Iterable[Doc], *, batch_size: int = 256) -> Iterator[Doc]:
        """Score docs in batches, for `nlp.pipe`: one matrix product per batch, not per doc."""
        batch: list[Doc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= batch_size:
                self._set_cats(batch)
                yield from batch
                batch = []
        if batch:
            self._set_cats(batch)
            yield from batch

    def fit(
        self,
        docs: Sequence[Doc],
        labels: Sequence[str],
        *,
        configs: Sequence[TrainConfig] = DEFAULT_ENSEMBLE,
        seed: int = 0,
        progress: Progress | None = None,
    ) -> None:
        """Learn the feature vocabulary and the weights of every model from labelled docs.

        `progress` gets (done, total) in units of 1/100 of one model's training.
        """
        self.labels = sorted(set(labels))
        index = {label: i for i, label in enumerate(self.labels)}
        y = np.array([index[label] for label in labels], dtype=np.int64)
        tokens = [doc_tokens(doc) for doc in docs]
        self.space = FeatureSpace.fit(
            (string_features(t) for t in tokens),
            min_df=MIN_DF_LARGE if len(docs) >= LARGE_DATA else 1,
        )
        rows = self.space.vectorise([self.space.feature_ids(t) for t in tokens])
        self.configs = [
            replace(c, seed=seed + i) for i, c in enumerate(configs) if len(docs) >= c.min_examples
        ] or [replace(configs[0], seed=seed)]
        self.models = []
        for i, config in enumerate(self.configs):
            report = None if progress is None else _scaled(progress, i, len(self.configs))
            self.models.append(
                train(config, rows, y, len(self.labels), len(self.space), progress=report)
            )

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Save labels, vocabulary, idf weights and every model under `path`, for `nlp.to_disk`.

        The idf weights go as float16, like the models' large tables, to keep the model small.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.space is None:
            raise ModelFormatError("cannot save an untrained intent classifier")
        (path / "labels.json").write_text(json.dumps(self.labels), encoding="utf-8")
        (path / "features.txt").write_text("\n".join(self.space.names), encoding="utf-8")
        np.save(path / "idf.npy", self.space.idf.astype(np.float16))
        models = []
        for i, (config, model) in enumerate(zip(self.configs, self.models, strict=True)):
            name = f"model{i}-{config.kind}.npz"
            model.save(path / name)
            models.append({"file": name, "config": asdict(config)})
        (path / "models.json").write_text(json.dumps(models, indent=1), encoding="utf-8")

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> IntentClassifier:
        """Load what `to_disk` saved, for `spacy.load`.

        Raises:
            ModelFormatError: a file is missing or unreadable, or there are no weights.
        """
        path = Path(path)
        try:
            self.labels = json.loads((path / "labels.json").read_text(encoding="utf-8"))
            names = (path / "features.txt").read_text(encoding="utf-8").split("\n")
            idf = np.load(path / "idf.npy").astype(np.float32)
            self.space = FeatureSpace(names, idf)
            listing = json.loads((path / "models.json").read_text(encoding="utf-8"))
            self.configs = [TrainConfig(**entry["config"]) for entry in listing]
            self.models = [
                MODEL_KINDS[c.kind].load(path / entry["file"])
                for c, entry in zip(self.configs, listing, strict=True)
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFormatError(f"cannot read the intent classifier in {path}: {exc}") from exc
        if not self.models:
            raise ModelFormatError(f"no weights in {path}")
        return self


def _scaled(progress: Progress, index: int, count: int) -> Progress:
    """Report the epochs of model `index` of `count` as hundredths of a model."""

    def report(epoch: int, epochs: int) -> None:
        progress(100 * index + 100 * epoch // epochs, 100 * count)

    return report


@Language.factory(COMPONENT_NAME)
def make_intent_classifier(nlp: Language, name: str) -> IntentClassifier:
    """Build the component when a pipeline asks for `nlp.add_pipe("switchboard_intents")`."""
    return IntentClassifier(nlp, name)
