"""Where the packaged data lives: inside the installed package (wheel) or in the checkout."""

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for base in (_HERE / "_data", _HERE.parent):
        path = base / name
        if path.exists():
            return path
    raise FileNotFoundError(f"packaged data '{name}' is missing from {_HERE}; reinstall scaling-kb")


def laws_dir() -> Path:
    return _find("laws")


def templates_dir() -> Path:
    return _find("templates")


def bibliography() -> Path:
    return _find("references.bib")
