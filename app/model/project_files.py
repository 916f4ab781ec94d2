"""Project files with masks, written atomically and durably (Qt-free).

:mod:`app.model.persistence` writes the ``.sdproj`` zip (timeline, lossless audio, images,
recipes). This module adds the clips' painted masks as one more zip entry, ``masks.json``
(readers that do not know it ignore it, so the format version stays the same), and makes the
save durable: the complete file is written under a temporary name, fsync'ed, renamed over the
target and the folder fsync'ed (:func:`engine.audio.io.atomic_output_path`), so a crash or a
killed process at any moment leaves either the previous file or the new one.

Like ProjectSnapshot, saving is split: :meth:`ProjectFileSnapshot.capture` on the GUI thread
(cheap: references to immutable arrays and mask values), :meth:`ProjectFileSnapshot.write` on
any thread.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.model.mask import Mask, MaskStore
from app.model.persistence import ProjectFileError, ProjectSnapshot, load_project
from app.model.project import Project

MASKS_ENTRY = "masks.json"
#: Temporary files of a save that was killed are removed by a later save once this old.
STALE_TEMP_S = 3600.0


def remove_stale_temps(path: str | os.PathLike, older_than_s: float = STALE_TEMP_S) -> list[Path]:
    """Delete what killed saves of ``path`` left next to it (``.<name>.*.tmp``), if older than
    ``older_than_s`` (a younger one may belong to a save running now). Returns what was deleted."""
    path = Path(path)
    removed = []
    now = time.time()
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > older_than_s:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            pass
    return removed


@dataclass
class ProjectFileSnapshot:
    """A project and its masks at one moment, ready to be written from any thread."""

    project: ProjectSnapshot
    masks: dict[str, Any]

    @classmethod
    def capture(cls, project: Project, masks: MaskStore | None = None) -> ProjectFileSnapshot:
        return cls(ProjectSnapshot.capture(project), masks.to_dict(project) if masks is not None else {})

    def write(self, path: str | os.PathLike) -> None:
        """Write the project file at ``path`` atomically and durably.

        Raises OSError or ValueError (engine.audio.io.AudioWriteError) when the disk refuses; the
        previous file at ``path`` is then untouched.
        """
        from engine.audio.io import atomic_output_path

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        with atomic_output_path(path) as tmp:
            self.project.write(tmp)
            with zipfile.ZipFile(tmp, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
                zf.writestr(MASKS_ENTRY, json.dumps(self.masks))


def save_project_file(project: Project, masks: MaskStore | None, path: str | os.PathLike) -> None:
    """Capture and write in one go (scripts and tests; the app splits the two)."""
    ProjectFileSnapshot.capture(project, masks).write(path)


def read_masks(path: str | os.PathLike) -> dict[str, Mask]:
    """The masks stored in a project file ({} for a file saved without any).

    Raises ProjectFileError for a file that is not a readable zip or holds a damaged masks entry.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            if MASKS_ENTRY not in zf.namelist():
                return {}
            data = json.loads(zf.read(MASKS_ENTRY))
    except (OSError, zipfile.BadZipFile) as exc:
        raise ProjectFileError(f"'{path}': cannot read the masks ({exc}).") from None
    except ValueError as exc:
        raise ProjectFileError(f"'{path}': {MASKS_ENTRY} is damaged ({exc}).") from None
    try:
        return MaskStore.masks_from_dict(data)
    except ValueError as exc:
        raise ProjectFileError(f"'{path}': {exc}") from None


def load_project_file(path: str | os.PathLike) -> tuple[Project, dict[str, Mask]]:
    """Read a project and the masks of its clips. Raises ProjectFileError (nothing half-loaded)."""
    project = load_project(path)
    masks = read_masks(path)
    present = {clip.id for clip in project.clips()}
    return project, {cid: mask for cid, mask in masks.items() if cid in present}
