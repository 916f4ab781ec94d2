"""Project files (``.sdproj``): a zip holding ``project.json``, each audio array once as a 32-bit
float WAV (sample-exact) and each spectrogram image as a PNG with its EXIF params. Qt-free.

Saving is split so the GUI never blocks: :meth:`ProjectSnapshot.capture` runs on the GUI thread
(cheap: it copies field values and keeps references to the immutable arrays), and
:meth:`ProjectSnapshot.write` runs on a worker thread. Files are written to a temporary name and
renamed, so a crash mid-save never destroys the previous file.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.model.project import Clip, Project, Track
from engine.specs import Recipe

PROJECT_SUFFIX = ".sdproj"
FORMAT_NAME = "specdiff-project"
FORMAT_VERSION = 1


class ProjectFileError(ValueError):
    """A project file is missing, not a project, from a newer version, or damaged."""


@dataclass
class ProjectSnapshot:
    """The project's state at one moment, ready to be written from any thread."""

    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]
    rates: dict[str, int]
    images: dict[str, Any]

    @classmethod
    def capture(cls, project: Project) -> ProjectSnapshot:
        arrays: dict[str, np.ndarray] = {}
        rates: dict[str, int] = {}
        images: dict[str, Any] = {}
        keys: dict[int, str] = {}
        tracks = []
        for track in project.tracks:
            clips = []
            for clip in track.clips:
                key = keys.get(id(clip.audio))
                if key is None:  # split and duplicated clips share their array: store it once
                    key = keys[id(clip.audio)] = f"audio/{len(arrays):04d}.wav"
                    arrays[key] = clip.audio
                    rates[key] = clip.sample_rate_hz
                image_key = None
                if clip.image is not None:
                    image_key = keys.get(id(clip.image))
                    if image_key is None:
                        image_key = keys[id(clip.image)] = f"images/{len(images):04d}.png"
                        images[image_key] = clip.image
                clips.append(
                    {
                        "id": clip.id,
                        "name": clip.name,
                        "audio": key,
                        "sample_rate_hz": clip.sample_rate_hz,
                        "start_s": clip.start_s,
                        "offset_s": clip.offset_s,
                        "duration_s": clip.duration_s,
                        "gain_db": clip.gain_db,
                        "recipe": clip.recipe.to_dict() if clip.recipe is not None else None,
                        "image": image_key,
                        "source_path": clip.source_path,
                        "spectrogram_preset": clip.spectrogram_preset,
                    }
                )
            tracks.append(
                {
                    "id": track.id,
                    "name": track.name,
                    "gain_db": track.gain_db,
                    "mute": track.mute,
                    "solo": track.solo,
                    "clips": clips,
                }
            )
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "sample_rate_hz": project.sample_rate_hz,
            "playhead_s": project.playhead_s,
            "tracks": tracks,
        }
        return cls(manifest, arrays, rates, images)

    def write(self, path: str | os.PathLike) -> None:
        """Write the project file (atomically replacing ``path``). Raises OSError on disk errors."""
        import soundfile as sf

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
                zf.writestr("project.json", json.dumps(self.manifest, indent=1))
                for key, audio in self.arrays.items():
                    buf = io.BytesIO()
                    sf.write(buf, np.ascontiguousarray(audio.T), self.rates[key], format="WAV", subtype="FLOAT")
                    zf.writestr(key, buf.getvalue())
                for key, image in self.images.items():
                    buf = io.BytesIO()
                    exif = image.getexif() if hasattr(image, "getexif") else None
                    image.save(buf, format="PNG", **({"exif": exif} if exif else {}))
                    zf.writestr(key, buf.getvalue(), compress_type=zipfile.ZIP_STORED)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def save_project(project: Project, path: str | os.PathLike) -> None:
    """Capture and write in one go (for scripts and tests; the app splits the two)."""
    ProjectSnapshot.capture(project).write(path)


def load_project(path: str | os.PathLike) -> Project:
    """Read a ``.sdproj`` file into a new Project (``path`` set). Raises ProjectFileError."""
    import soundfile as sf
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise ProjectFileError(f"Project file '{path}' does not exist.")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ProjectFileError(f"'{path}' is not a Specdiff project file (not a zip archive).") from None
    with zf:
        try:
            manifest = json.loads(zf.read("project.json"))
        except KeyError:
            raise ProjectFileError(f"'{path}' is not a Specdiff project file (no project.json).") from None
        except ValueError as exc:
            raise ProjectFileError(f"'{path}': project.json is damaged ({exc}).") from None
        if manifest.get("format") != FORMAT_NAME:
            raise ProjectFileError(f"'{path}' is not a Specdiff project file.")
        if int(manifest.get("version", 0)) > FORMAT_VERSION:
            raise ProjectFileError(
                f"'{path}' was saved by a newer version (format {manifest['version']}); "
                f"this version reads format {FORMAT_VERSION}."
            )
        arrays: dict[str, tuple[np.ndarray, int]] = {}
        images: dict[str, Any] = {}
        try:
            project = Project(sample_rate_hz=int(manifest["sample_rate_hz"]))
            for t in manifest["tracks"]:
                track = Track(id=t["id"], name=t["name"], gain_db=t["gain_db"], mute=t["mute"], solo=t["solo"])
                for c in t["clips"]:
                    key = c["audio"]
                    if key not in arrays:
                        data, rate = sf.read(io.BytesIO(zf.read(key)), dtype="float32", always_2d=True)
                        arrays[key] = (np.ascontiguousarray(data.T), int(rate))
                    image = None
                    if c.get("image"):
                        if c["image"] not in images:
                            img = Image.open(io.BytesIO(zf.read(c["image"])))
                            img.load()
                            images[c["image"]] = img
                        image = images[c["image"]]
                    track.clips.append(
                        Clip(
                            id=c["id"],
                            name=c["name"],
                            audio=arrays[key][0],
                            sample_rate_hz=int(c["sample_rate_hz"]),
                            start_s=c["start_s"],
                            offset_s=c["offset_s"],
                            duration_s=c["duration_s"],
                            gain_db=c["gain_db"],
                            recipe=Recipe.from_dict(c["recipe"]) if c.get("recipe") else None,
                            image=image,
                            source_path=c.get("source_path"),
                            spectrogram_preset=c.get("spectrogram_preset", "riffusion"),
                        )
                    )
                project.add_track(track)
            project.playhead_s = float(manifest.get("playhead_s", 0.0))
        except (KeyError, TypeError, ValueError, RuntimeError, zipfile.BadZipFile) as exc:
            raise ProjectFileError(f"'{path}' is damaged or incomplete: {exc}") from None
    project.path = str(path)
    return project
