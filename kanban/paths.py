"""Where templates, static files and migrations live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource(name: str) -> Path:
    """Path of a top-level resource folder (templates, migrations) in a wheel or a checkout."""
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    return _PKG.parent / name


STATIC_DIR = _PKG / "web" / "static"
