"""Errors raised by the NLU package; every one is an `NLUError`."""

from __future__ import annotations


class NLUError(Exception):
    """Root of every error the NLU raises on purpose."""


class ModelNotFoundError(NLUError):
    """No trained model where one was expected."""

    def __init__(self, path: object) -> None:
        super().__init__(f"no NLU model at {path}; run `switchboard nlu train`")
        self.path = path


class ModelFormatError(NLUError):
    """A model directory exists but cannot be read (damaged, or from an incompatible version)."""


class TrainingDataError(NLUError):
    """Training or evaluation data that cannot be used (missing file, bad line, too few labels)."""
