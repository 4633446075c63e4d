"""The exceptions minilm raises, in one module that imports nothing heavy.

``ModelNotFoundError`` is a ``FileNotFoundError`` and ``ModelFilesError`` a ``ValueError``, so a
caller that catches the built-in kinds (as the CLI does) catches these too.
"""

from __future__ import annotations


class ModelNotFoundError(FileNotFoundError):
    """No step of the model search found usable files; the message lists every step."""


class ModelFilesError(ValueError):
    """A model folder or weights file is incomplete, damaged or inconsistent."""


class WeightsMismatchError(ModelFilesError):
    """A checkpoint's tensors do not match the model: lists what is missing, extra or misshapen."""


class UnsupportedWeightsError(ModelFilesError):
    """The weights are in a format this loader does not read (the NumPy encoder reads only
    safetensors); the PyTorch ``SentenceEncoder`` reads every format ``locate_model`` finds."""
