"""A loaded model's feature tables are mapped from its files, not copied into each process."""

import mmap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nlu.classifier import HiddenLayerModel, LinearModel, read_arrays
from nlu.component import COMPONENT_NAME, IntentClassifier
from nlu.features import SparseRows
from nlu.pipeline import SpacyUnderstander

ROWS = SparseRows(
    np.array([1, 2, 2999, 3], dtype=np.int64),
    np.array([0.5, 0.5, 1.0, 1.0], dtype=np.float32),
    np.array([0, 3, 4], dtype=np.int64),
)


def _mapped(array: Any) -> bool:
    while array is not None:
        if isinstance(array, mmap.mmap):
            return True
        array = getattr(array, "base", None)
    return False


def _linear(rng: np.random.Generator) -> LinearModel:
    weights = rng.standard_normal((3000, 30)).astype(np.float32)
    return LinearModel(weights, rng.standard_normal(30).astype(np.float32))


def test_a_linear_models_table_is_mapped_read_only_and_scores_the_same(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    _linear(np.random.default_rng(0)).save(path)
    loaded = LinearModel.load(path)
    assert _mapped(loaded.weights)
    assert not loaded.weights.flags.writeable
    assert loaded.weights.dtype == np.float16
    assert type(loaded.weights) is np.ndarray  # no memmap subclass on the scoring path
    assert not _mapped(loaded.bias)
    with np.load(path) as data:
        in_heap = LinearModel(data["weights"], data["bias"].astype(np.float32))
    assert np.array_equal(loaded.predict_proba(ROWS), in_heap.predict_proba(ROWS))


def test_a_hidden_layer_models_embedding_is_mapped(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "model.npz"
    HiddenLayerModel(
        rng.standard_normal((3000, 64)).astype(np.float32),
        np.zeros(64, dtype=np.float32),
        rng.standard_normal((64, 30)).astype(np.float32),
        np.zeros(30, dtype=np.float32),
    ).save(path)
    loaded = HiddenLayerModel.load(path)
    assert _mapped(loaded.embed)
    assert not _mapped(loaded.out)
    with np.load(path) as data:
        in_heap = HiddenLayerModel(
            data["embed"], *(data[k].astype(np.float32) for k in ("hidden_bias", "out", "bias"))
        )
    assert np.array_equal(loaded.predict_proba(ROWS), in_heap.predict_proba(ROWS))


@pytest.mark.parametrize("shape", [(10, 30), (3000, 30)])
def test_compressed_and_small_arrays_are_read_as_numpy_reads_them(
    tmp_path: Path, shape: tuple[int, int]
) -> None:
    table = np.random.default_rng(2).standard_normal(shape).astype(np.float16)
    np.savez_compressed(tmp_path / "c.npz", weights=table, bias=np.zeros(30, dtype=np.float32))
    np.savez(tmp_path / "s.npz", weights=table[:10])
    compressed = read_arrays(tmp_path / "c.npz")
    small = read_arrays(tmp_path / "s.npz")
    assert not _mapped(compressed["weights"])
    assert not _mapped(small["weights"])
    assert np.array_equal(compressed["weights"], table)
    assert np.array_equal(small["weights"], table[:10])
    assert compressed["bias"].dtype == np.float32


def test_the_trained_model_loads_its_table_mapped(understander: SpacyUnderstander) -> None:
    component = understander.nlp.get_pipe(COMPONENT_NAME)
    assert isinstance(component, IntentClassifier)
    tables = [getattr(m, "weights", getattr(m, "embed", None)) for m in component.models]
    assert tables
    assert all(_mapped(t) for t in tables)


def test_a_damaged_file_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(b"not a zip archive at all")
    with pytest.raises(ValueError, match="not a readable"):
        LinearModel.load(path)
