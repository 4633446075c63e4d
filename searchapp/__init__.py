"""Local semantic search over files: index folders, then query them by meaning."""

from __future__ import annotations
