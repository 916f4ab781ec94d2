"""Collect files: copy the audio files a project's clips were imported from next to the project.

A ``.sdproj`` already holds every clip's samples losslessly, so a project never loses audio when
its source files move. Collecting keeps the *original files* too (their exact bytes: compressed
formats, tags, the full length of a clip that was trimmed), in ``<project name> media/`` beside
the project file, and points the clips' ``source_path`` at the copies, as DAWs' "collect and
save" / "copy media into the project folder" do.

Qt-free and split like saving: :func:`plan_collect` on the GUI thread (cheap: paths only),
:func:`copy_collected` on any thread (the copies; each one atomic), then the relinks go through
the undo stack (:func:`relink_commands`).
"""

from __future__ import annotations

import filecmp
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from app.model.commands import Command, SetClipProperty
from app.model.project import Project
from engine.audio.io import atomic_output_path


def media_folder(project_path: str | os.PathLike[str]) -> Path:
    """Where collected files go: ``<folder>/<project stem> media/``."""
    path = Path(project_path)
    return path.parent / f"{path.stem} media"


@dataclass
class CollectPlan:
    """What :func:`copy_collected` will do.

    ``copies`` maps each source file to its destination (a source used by several clips is
    copied once); ``relinks`` maps clip ids to their new ``source_path``; ``missing`` lists
    sources that no longer exist (their clips keep their embedded audio and old path);
    ``already`` counts clips whose source is in the media folder already.
    """

    folder: Path
    copies: dict[Path, Path] = field(default_factory=dict)
    relinks: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    already: int = 0


def _unique_destination(folder: Path, name: str, taken: set[Path], source: Path) -> Path:
    """``folder/name``, or ``folder/stem 2.ext`` ... when that name holds another file."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate = folder / name
    number = 2
    while candidate in taken or (candidate.exists() and not filecmp.cmp(candidate, source, shallow=False)):
        candidate = folder / f"{stem} {number}{suffix}"
        number += 1
    return candidate


def plan_collect(project: Project, project_path: str | os.PathLike[str]) -> CollectPlan:
    """Plan copying every clip's existing source file into :func:`media_folder`."""
    folder = media_folder(project_path).resolve()
    plan = CollectPlan(folder)
    taken: set[Path] = set()
    for track in project.tracks:
        for clip in track.clips:
            if not clip.source_path:
                continue
            source = Path(clip.source_path).expanduser()
            try:
                resolved = source.resolve()
            except OSError:
                resolved = source
            if resolved.parent == folder and resolved.is_file():
                plan.already += 1
                continue
            if not resolved.is_file():
                if clip.source_path not in plan.missing:
                    plan.missing.append(clip.source_path)
                continue
            if resolved not in plan.copies:
                destination = _unique_destination(folder, resolved.name, taken, resolved)
                plan.copies[resolved] = destination
                taken.add(destination)
            plan.relinks[clip.id] = str(plan.copies[resolved])
    return plan


def copy_collected(plan: CollectPlan) -> list[Path]:
    """Copy the planned files (any thread). A destination that already holds the same bytes is
    kept; each copy is written under a temporary name and renamed, so a crash never leaves a
    half-copied file under the final name. Returns the files written. Raises OSError (the
    first failure; files copied before it stay)."""
    if not plan.copies:
        return []
    plan.folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source, destination in plan.copies.items():
        if destination.exists() and filecmp.cmp(destination, source, shallow=False):
            continue
        with atomic_output_path(destination) as temp:
            shutil.copy2(source, temp)
        written.append(destination)
    return written


def relink_commands(project: Project, plan: CollectPlan) -> list[Command]:
    """One undoable ``source_path`` change per relinked clip that still exists."""
    return [
        SetClipProperty(project, clip_id, "source_path", path)
        for clip_id, path in plan.relinks.items()
        if project.has_clip(clip_id)
    ]


def describe(plan: CollectPlan, written: list[Path]) -> str:
    """A one-line summary for the status bar."""
    parts = [f"Collected {len(plan.copies)} file{'s' if len(plan.copies) != 1 else ''} into {plan.folder}"]
    if len(written) < len(plan.copies):
        parts.append(f"{len(plan.copies) - len(written)} already there")
    if plan.already:
        parts.append(f"{plan.already} clip{'s' if plan.already != 1 else ''} already collected")
    if plan.missing:
        names = ", ".join(Path(m).name for m in plan.missing[:3]) + (" …" if len(plan.missing) > 3 else "")
        parts.append(f"{len(plan.missing)} source file{'s' if len(plan.missing) != 1 else ''} missing ({names}); "
                     "their audio is kept in the project")
    return "; ".join(parts) + "."
