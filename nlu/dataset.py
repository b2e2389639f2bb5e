"""Reading labelled examples.

Two formats: JSON Lines of `{"text": ..., "intent": ...}` (any data set, e.g. CLINC150), and the
sectioned text of our own data (`nlu/data/*.txt`): a line `[intent]` opens a section, each
following non-empty line is one message, lines starting with `//` are comments. Writing one
message per line without quoting keeps hand-written chat as it was typed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nlu.errors import TrainingDataError


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message."""

    text: str
    intent: str


def builtin_data_dir() -> Path:
    """The directory of Switchboard's own training and test data."""
    return Path(str(resources.files("nlu") / "data"))


def builtin_train_files() -> list[Path]:
    """Our own training files (`train_*.txt`); the `test_*.txt` files are never trained on."""
    return sorted(builtin_data_dir().glob("train_*.txt"))


def builtin_test_files() -> list[Path]:
    """Our own held-out test files."""
    return sorted(builtin_data_dir().glob("test_*.txt"))


def independent_test_files() -> list[Path]:
    """The second test set (`independent_*.txt`), written from the intent definitions alone.

    Neither trained on nor used to fit any threshold; `evaluate --test` reads it.
    """
    return sorted(builtin_data_dir().glob("independent_*.txt"))


def data_files(data: Path | None) -> list[Path]:
    """The files a `data` argument stands for.

    A file stands for itself, a directory for its `train*.jsonl` and `train*.txt` files, and
    None for the project's own training files.
    """
    if data is None:
        files = builtin_train_files()
    elif Path(data).is_dir():
        files = sorted([*Path(data).glob("train*.jsonl"), *Path(data).glob("train*.txt")])
    else:
        files = [Path(data)]
    if not files:
        raise TrainingDataError(f"no training data found at {data}")
    return files


def read_jsonl(path: Path) -> list[Example]:
    """Read one JSON Lines file; blank lines and lines starting with `//` are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TrainingDataError(f"cannot read {path}: {exc}") from exc
    out: list[Example] = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        try:
            row = json.loads(line)
            text, intent = row["text"], row["intent"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TrainingDataError(f'{path}:{number}: expected {{"text", "intent"}}') from exc
        if not isinstance(text, str) or not isinstance(intent, str) or not intent:
            raise TrainingDataError(f"{path}:{number}: text and intent must be strings")
        out.append(Example(text, intent))
    return out


_SECTION = re.compile(r"^\[([a-z][a-z0-9_]*)\]$")


def read_sectioned(path: Path) -> list[Example]:
    """Read our sectioned text format (see the module docstring)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TrainingDataError(f"cannot read {path}: {exc}") from exc
    out: list[Example] = []
    intent = ""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        section = _SECTION.match(line)
        if section:
            intent = section.group(1)
        elif not intent:
            raise TrainingDataError(f"{path}:{number}: message before any [intent] line")
        else:
            out.append(Example(line, intent))
    return out


def read_file(path: Path) -> list[Example]:
    """Read a data file in either format (by suffix: `.txt` sectioned, else JSON Lines)."""
    return read_sectioned(path) if Path(path).suffix == ".txt" else read_jsonl(path)


def read_examples(files: Iterable[Path]) -> list[Example]:
    """All examples of several files, in order."""
    return [example for path in files for example in read_file(path)]


def data_hash(files: Sequence[Path], *extra: str) -> str:
    """A digest of the data files' contents (and of any settings that shape the model)."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        digest.update(path.name.encode())
        digest.update(Path(path).read_bytes())
    for item in extra:
        digest.update(item.encode())
    return digest.hexdigest()
