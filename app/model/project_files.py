"""Project files with masks, written atomically and durably, read whole or not at all (Qt-free).

:mod:`app.model.persistence` writes the ``.sdproj`` zip (timeline, lossless audio, images,
recipes). This module adds the clips' painted masks as one more zip entry, ``masks.json``
(readers that do not know it ignore it, so the format version stays the same), and makes the
save durable: the complete file is written under a temporary name, fsync'ed, renamed over the
target and the folder fsync'ed (:func:`engine.audio.io.atomic_output_path`), so a crash or a
killed process at any moment leaves either the previous file or the new one.

Like ProjectSnapshot, saving is split: :meth:`ProjectFileSnapshot.capture` on the GUI thread
(cheap: references to immutable arrays and mask values), :meth:`ProjectFileSnapshot.write` on
any thread. :func:`load_project_file` builds a complete :class:`LoadedProject` off to the side
(any thread), which the window then swaps in whole.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.model.mask import Mask, MaskStore
from app.model.persistence import (  # noqa: F401 - ProjectFileError re-exported
    DEFAULT_LIMITS,
    FileLimits,
    ProjectArchive,
    ProjectFileError,
    ProjectSnapshot,
    project_from_archive,
)
from app.model.project import Project

MASKS_ENTRY = "masks.json"


@dataclass
class ProjectFileSnapshot:
    """A project and its masks at one moment, ready to be written from any thread."""

    project: ProjectSnapshot
    masks: dict[str, Any]

    @classmethod
    def capture(cls, project: Project, masks: MaskStore | None = None) -> ProjectFileSnapshot:
        return cls(ProjectSnapshot.capture(project), masks.to_dict(project) if masks is not None else {})

    def write(self, path: str | os.PathLike) -> None:
        """Write the project file at ``path`` atomically and durably, keeping its permission mode.

        Raises OSError or ValueError (engine.audio.io.AudioWriteError) when the disk refuses; the
        previous file at ``path`` is then untouched.
        """
        self.project.write(path, extra={MASKS_ENTRY: json.dumps(self.masks).encode()})


def save_project_file(project: Project, masks: MaskStore | None, path: str | os.PathLike) -> None:
    """Capture and write in one go (scripts and tests; the app splits the two)."""
    ProjectFileSnapshot.capture(project, masks).write(path)


@dataclass
class LoadedProject:
    """A project file read whole: the new project (``path`` set), its clips' masks, and
    warnings for what was left out (a recipe this version cannot read)."""

    project: Project
    masks: dict[str, Mask] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _masks_from_archive(archive: ProjectArchive) -> dict[str, Mask]:
    if MASKS_ENTRY not in archive.names:
        return {}
    data = archive.read_json(MASKS_ENTRY, archive.limits.masks_bytes)
    try:
        return MaskStore.masks_from_dict(data)
    except ValueError as exc:
        archive.fields.fail(MASKS_ENTRY, f"is damaged: {exc}")


def read_masks(path: str | os.PathLike, limits: FileLimits = DEFAULT_LIMITS) -> dict[str, Mask]:
    """The masks stored in a project file ({} for a file saved without any).

    Raises ProjectFileError for a file that is not a readable zip or holds a damaged masks entry.
    """
    with ProjectArchive(path, limits) as archive:
        return _masks_from_archive(archive)


def load_project_file(path: str | os.PathLike, limits: FileLimits = DEFAULT_LIMITS) -> LoadedProject:
    """Read a project and the masks of its clips. Raises ProjectFileError and nothing else for
    any file (nothing half-loaded: the result is a new project that no view holds yet)."""
    with ProjectArchive(path, limits) as archive:
        project, warnings = project_from_archive(archive)
        masks = _masks_from_archive(archive)
    project.path = str(path)
    present = {clip.id for clip in project.clips()}
    return LoadedProject(project, {cid: mask for cid, mask in masks.items() if cid in present}, warnings)
