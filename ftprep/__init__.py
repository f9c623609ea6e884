"""ftprep: fine-tuning datasets that are right the first time.

The library is the product; the `ftprep` command is a thin layer over these functions.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
