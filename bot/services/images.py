"""Generated images (leaderboards, certificates) under the media directory, named by `media:`
references that cards carry and adapters resolve."""

from __future__ import annotations

from pathlib import Path

MEDIA_PREFIX = "media:"


def media_ref(media_dir: Path, path: Path) -> str:
    """`media:<relative path>` for a file under the media directory."""
    return MEDIA_PREFIX + path.resolve().relative_to(media_dir.resolve()).as_posix()


def media_path(media_dir: Path, ref: str) -> Path | None:
    """The file a `media:` ref names, or None if it is not one or escapes the media directory."""
    if not ref.startswith(MEDIA_PREFIX):
        return None
    root = media_dir.resolve()
    path = (root / ref[len(MEDIA_PREFIX) :]).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path
