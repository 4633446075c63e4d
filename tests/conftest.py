"""Shared test settings: never reach the network for models."""

from __future__ import annotations

import os

# Tests never download anything: the hub step of model resolution must report "skipped".
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.pop("LLM_MODELS_PATH", None)
