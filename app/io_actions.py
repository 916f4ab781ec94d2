"""Import and export: audio files to clips and back, project files, and dragging a clip out.

The slow parts (reading and writing files) are plain functions the main window runs on a worker
thread; only :func:`clip_drag_mime` and :func:`dropped_paths` touch Qt.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QMimeData, QUrl

from app.model.mix import MixPlan, mix_channels, render_clip
from app.model.persistence import PROJECT_SUFFIX, ProjectSnapshot, load_project  # noqa: F401 - re-exported
from app.model.project import MAX_CHANNELS, Clip, Project
from engine.specs import Recipe

PROJECT_FILE_FILTER = f"Specdiff projects (*{PROJECT_SUFFIX})"
#: Marks drags that come from our own timeline, so dropping them back does not re-import them.
CLIP_MIME_TYPE = "application/x-specdiff-clip"
#: Marks a picture dragged out of the Pictures dock (dropping it back on the window adds nothing).
PICTURE_MIME_TYPE = "application/x-specdiff-picture"
METADATA_APP = "Specdiff Studio"
#: libsndfile keeps WAV INFO tags up to about 2000 bytes; recipes beyond that are left out
#: of a WAV's comment (FLAC keeps them all).
WAV_COMMENT_LIMIT_BYTES = 1900


@dataclass(frozen=True)
class ExportFormat:
    key: str
    label: str
    extension: str
    subtype: str  # soundfile subtype ("" for the spectrogram image)

    @property
    def fixed_point(self) -> bool:
        """Integer samples: anything beyond full scale is cut off (clips) when written."""
        return self.subtype.startswith("PCM")

    @property
    def is_image(self) -> bool:
        return self.key == SPECTROGRAM_FORMAT_KEY


EXPORT_FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat("wav16", "WAV 16-bit", ".wav", "PCM_16"),
    ExportFormat("wav24", "WAV 24-bit", ".wav", "PCM_24"),
    ExportFormat("wav32f", "WAV 32-bit float", ".wav", "FLOAT"),
    ExportFormat("flac16", "FLAC 16-bit", ".flac", "PCM_16"),
    ExportFormat("flac24", "FLAC 24-bit", ".flac", "PCM_24"),
    ExportFormat("png", "PNG spectrogram (Riffusion)", ".png", ""),
)
SPECTROGRAM_FORMAT_KEY = "png"
EXPORT_SCOPES = {"clip": "Selected clip", "selection": "Selection", "mix": "Whole mix"}
#: Spectrogram images File > Import decodes to audio (Riffusion's format: params in EXIF).
SPECTROGRAM_IMAGE_EXTENSIONS = (".png",)
#: What to do with an export that would clip a fixed-point file (see :func:`apply_clipping_remedy`).
CLIPPING_REMEDIES = ("normalize", "limit", "float", "keep")
#: The true-peak ceiling of Normalise and Limit (dBTP).
EXPORT_CEILING_DBTP = -1.0


def export_format(key: str) -> ExportFormat:
    for fmt in EXPORT_FORMATS:
        if fmt.key == key:
            return fmt
    raise ValueError(f"unknown export format {key!r}; expected one of {', '.join(f.key for f in EXPORT_FORMATS)}.")


# ---------------------------------------------------------------------------------------- import


def readable_extensions() -> list[str]:
    """File extensions the engine reads (lower case, with the dot)."""
    from engine.audio import io as audio_io

    exts = getattr(audio_io, "READABLE_EXTENSIONS", None)
    if exts:
        return sorted({e if e.startswith(".") else "." + e for e in (x.lower() for x in exts)})
    import soundfile as sf

    return sorted({"." + fmt.lower() for fmt in sf.available_formats()} | {".wav", ".flac", ".ogg", ".mp3"})


def import_file_filter() -> str:
    audio = " ".join(f"*{e}" for e in readable_extensions())
    images = " ".join(f"*{e}" for e in SPECTROGRAM_IMAGE_EXTENSIONS)
    return (f"Audio and spectrogram images ({audio} {images});;Audio files ({audio});;"
            f"Spectrogram images, Riffusion format ({images});;All files (*)")


def supported_formats_text() -> str:
    """One sentence naming what File > Import reads."""
    names = sorted({e.lstrip(".").upper() for e in readable_extensions()})
    common = [n for n in ("WAV", "FLAC", "OGG", "MP3", "AIFF") if n in names]
    others = [n for n in names if n not in common]
    return (f"Specdiff Studio imports audio ({', '.join(common + others[:6])}"
            f"{', …' if len(others) > 6 else ''}) and Riffusion-format spectrogram images (PNG).")


def import_errors_text(errors: list[tuple[str, str]]) -> str:
    """The import error box's text: one line per file, its name once and then the reason (not the
    path again, nor the library's "Error opening '<path>'"), and the formats sentence once below
    the list rather than on every line."""
    formats = supported_formats_text()
    lines, named_formats = [], False
    for path, error in errors:
        text = error
        for prefix in (f"{path}: ", f"'{path}': "):
            if text.startswith(prefix):
                text = text[len(prefix):]
        named_formats = named_formats or formats in text
        text = text.replace(formats, "").replace(f"Error opening '{path}': ", "").strip()
        while ".." in text.replace("...", ""):
            text = text.replace("..", ".")
        lines.append(f"{Path(path).name}: {text}")
    return "\n".join(lines) + (f"\n\n{formats}" if named_formats else "")


@dataclass(frozen=True)
class ImportResult:
    """One file of an import: its clip, or a picture (a PNG made by Picture from Audio, which
    joins the Pictures dock), or the reason it failed. ``inputs`` are the inputs its recipe was
    made from, found where the recipe says they were read from (by fingerprint, for
    :attr:`Project.inputs`), so an imported result can be regenerated."""

    path: str
    clip: Clip | None
    error: str | None = None
    picture: Any = None
    inputs: dict[str, Any] = field(default_factory=dict)


def read_clip(path: str | Path) -> Clip:
    """A clip (at time 0) holding the file's audio at its own rate, or the audio a spectrogram
    image (PNG) decodes to. Raises the engine's AudioFileError (or ValueError) with a message
    naming the file, and for a format it cannot read, the formats it can."""
    from engine.audio.io import AudioFileCorruptError, read_audio

    suffix = Path(path).suffix.lower()
    if suffix in SPECTROGRAM_IMAGE_EXTENSIONS:
        return read_spectrogram_clip(path)
    if suffix not in readable_extensions() and Path(path).is_file():
        raise ValueError(f"'{Path(path).name}' is not a format Specdiff Studio reads. {supported_formats_text()}")
    try:
        loaded = read_audio(path)
    except AudioFileCorruptError as exc:
        raise AudioFileCorruptError(f"{str(exc).rstrip('.')}. {supported_formats_text()}") from exc
    audio, rate = (loaded if isinstance(loaded, tuple) else (loaded.audio, loaded.sample_rate_hz))
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.shape[0] > MAX_CHANNELS:
        raise ValueError(
            f"'{path}' has {audio.shape[0]} channels; clips hold mono or stereo. "
            "Mix it down to stereo in another tool first."
        )
    return Clip(name=Path(path).stem, audio=np.ascontiguousarray(audio), sample_rate_hz=int(rate), source_path=str(path),
                recipe=file_recipe(path))


def file_recipe(path: str | Path) -> Recipe | None:
    """The recipe an audio file carries (written by specdiff-cli or exported from one clip of the
    app), or None: a file without one, or one this version cannot read, imports as plain audio."""
    from engine.recipes import read_file_recipe

    try:
        return read_file_recipe(path)
    except (OSError, ValueError):
        return None


def recorded_inputs(recipe: Recipe | None) -> dict[str, Any]:
    """The inputs ``recipe`` names by a path hint that are still there and the same (checked by
    fingerprint), by fingerprint: what :attr:`Project.inputs` keeps. One that is gone or changed
    is left out; the Inspector then says where it was read from. Reads files: a worker thread's job."""
    from engine.recipes import read_recorded_input

    found: dict[str, Any] = {}
    for record in (recipe.inputs.values() if recipe is not None else ()):
        sha, path = record.get("sha256"), record.get("path")
        if not sha or not path or sha in found or not Path(path).is_file():
            continue
        try:
            found[sha] = read_recorded_input(record, path)
        except (OSError, ValueError):  # unreadable, or no longer the recorded input
            continue
    return found


def preset_for(params: object) -> str | None:
    """The name of the spectrogram preset ``params`` are (mono or stereo), or None."""
    import dataclasses

    from engine.api import PRESETS

    mono = dataclasses.replace(params, stereo=False)
    return next((name for name, preset in PRESETS.items() if dataclasses.replace(preset, stereo=False) == mono), None)


def read_spectrogram_clip(path: str | Path) -> Clip:
    """A clip of the audio a spectrogram image decodes to (Griffin-Lim, with the parameters in
    its EXIF, Riffusion's preset for an image without them). Slow: runs on a worker thread.
    Raises ValueError saying why an image is not a spectrogram."""
    from engine.audio.limits import load_image
    from engine.api import SpectrogramParamsError, audio_from_mel, mel_from_image

    name = Path(path).name
    image = load_image(path)  # size checked before decoding; one-line ValueErrors
    try:
        mel, params = mel_from_image(image)
    except SpectrogramParamsError as exc:
        raise ValueError(f"'{name}' has spectrogram parameters that cannot be used: {exc}") from exc
    except ValueError as exc:
        if set(image.getexif()) & set(range(11000, 11081)):  # parameters that do not fit the image
            raise ValueError(f"'{name}': {exc}") from exc
        raise ValueError(  # no parameters, and not Riffusion's height
            f"'{name}' is not a spectrogram image Specdiff Studio can decode: it has no Riffusion "
            f"parameters in its EXIF and is {image.height} px high (a Riffusion spectrogram is 512 px)."
        ) from exc
    audio = audio_from_mel(mel, params)
    return Clip(name=Path(path).stem, audio=np.ascontiguousarray(audio, dtype=np.float32),
                sample_rate_hz=int(params.sample_rate), source_path=str(path), image=image.convert("RGB"),
                spectrogram_preset=preset_for(params) or "riffusion")


def read_clips(paths: list[str] | tuple[str, ...]) -> list[ImportResult]:
    """Read every file; a file that fails gives an ImportResult with the reason, the others
    still load. Runs on a worker thread."""
    from app.model.pictures import read_picture

    results = []
    for path in paths:
        try:
            picture = read_picture(path) if Path(path).suffix.lower() == ".png" else None
            if picture is not None:  # a picture of a clip, not a spectrogram
                results.append(ImportResult(str(path), None, picture=picture,
                                               inputs=recorded_inputs(getattr(picture, "recipe", None))))
                continue
            clip = read_clip(path)
            results.append(ImportResult(str(path), clip, inputs=recorded_inputs(clip.recipe)))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a per-file message
            results.append(ImportResult(str(path), None, str(exc) or type(exc).__name__))
    return results


def dropped_paths(mime: QMimeData) -> list[str]:
    """Local files in a drag (not our own clip or picture drags)."""
    if mime is None or not mime.hasUrls() or mime.hasFormat(CLIP_MIME_TYPE) or mime.hasFormat(PICTURE_MIME_TYPE):
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and Path(url.toLocalFile()).is_file()]


# ---------------------------------------------------------------------------------------- export


def export_metadata(clips: list[Clip]) -> dict[str, str]:
    """Text tags for an exported file: the recipes of the generated clips as JSON in the comment
    tag (``{"recipe": {...}}`` for one clip, ``{"recipes": [...]}`` for several)."""
    recipes = [c.recipe.to_dict() for c in clips if c.recipe is not None]
    tags = {"software": METADATA_APP}
    if len(clips) == 1:
        tags["title"] = clips[0].name
    if recipes:
        payload = {"recipe": recipes[0]} if len(recipes) == 1 else {"recipes": recipes}
        tags["comment"] = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return tags


@dataclass(frozen=True)
class ExportSource:
    """What an export writes, captured on the GUI thread without rendering it: a clip's audio
    (``audio``) or a mix to stream (``plan``), its rate and the file's metadata."""

    sample_rate_hz: int
    metadata: dict[str, str]
    audio: np.ndarray | None = None
    plan: MixPlan | None = None

    @property
    def channels(self) -> int:
        return self.audio.shape[0] if self.audio is not None else self.plan.channels

    def blocks(self) -> Iterator[np.ndarray]:
        """The audio in blocks (a mix is rendered block by block: memory of one block)."""
        return iter([self.audio]) if self.audio is not None else self.plan.blocks()

    @property
    def frames(self) -> int:
        return self.audio.shape[1] if self.audio is not None else self.plan.frames

    def read(self, first: int, count: int) -> np.ndarray:
        """Frames ``first .. first + count`` (a mix renders only those)."""
        if self.audio is not None:
            return self.audio[:, first : first + count]
        return self.plan.render(first, count)

    def peak(self) -> float:
        """The largest sample magnitude (a mix is measured block by block)."""
        if self.audio is not None:
            return float(np.abs(self.audio).max()) if self.audio.size else 0.0
        return self.plan.peak()

    def whole(self) -> np.ndarray:
        """All of it as one array (for what needs it whole: a spectrogram image)."""
        return self.audio if self.audio is not None else self.plan.render_all()


def export_source(project: Project, scope: str) -> ExportSource:
    """What an export of ``scope`` writes, without rendering it (GUI thread, cheap).

    ``scope``: "clip" (the first selected clip, at its own rate, sample-exact at 0 dB),
    "selection" (the mix over the selected time range, or over the selected clips' extent),
    "mix" (the whole project from 0 to its end). Raises ValueError when there is nothing to export.
    """
    if scope == "clip":
        clips = project.selected_clips()
        if not clips:
            raise ValueError("Select a clip to export it.")
        clip = clips[0]
        return ExportSource(clip.sample_rate_hz, export_metadata([clip]), audio=render_clip(clip))
    if scope == "selection":
        sel = project.selection
        if sel.has_time_range:
            start_s, end_s = sel.start_s, sel.end_s
            ids = None
        elif sel.clip_ids:
            chosen = project.selected_clips()
            start_s, end_s = min(c.start_s for c in chosen), max(c.end_s for c in chosen)
            ids = sel.clip_ids
        else:
            raise ValueError("Select a time range or some clips to export the selection.")
        clips = [c for c in project.clips() if c.end_s > start_s and c.start_s < end_s and (ids is None or c.id in ids)]
        plan = MixPlan(project, start_s, end_s, channels=mix_channels(project, clips), clip_ids=ids)
        return ExportSource(project.sample_rate_hz, export_metadata(clips), plan=plan)
    if scope == "mix":
        clips = project.clips()
        if not clips:
            raise ValueError("The project is empty: there is nothing to export.")
        plan = MixPlan(project, 0.0, project.duration_s, channels=mix_channels(project))
        return ExportSource(project.sample_rate_hz, export_metadata(clips), plan=plan)
    raise ValueError(f"unknown export scope {scope!r}; expected one of {', '.join(EXPORT_SCOPES)}.")


def render_export(project: Project, scope: str) -> tuple[np.ndarray, int, dict[str, str]]:
    """``(audio (channels, samples) float32, sample_rate_hz, metadata)`` of an export, whole
    (see :func:`export_source`; :func:`write_export_source` writes a mix in blocks instead)."""
    source = export_source(project, scope)
    return source.whole(), source.sample_rate_hz, source.metadata


def write_export_source(path: str | Path, source: ExportSource, format_key: str, *, remedy: str = "keep",
                        preset: str = "riffusion") -> None:
    """Write an export (worker thread). Audio files are written block by block, Normalise and
    Limit included (a mix of hours in the memory of one block: they measure it in a first pass).
    A spectrogram image is refused before anything is rendered when it would be too large (the
    image cap, the memory or scratch disk it needs), else written in chunks from the mix rendered
    chunk by chunk."""
    from engine.audio.io import write_audio_blocks

    fmt = export_format(format_key)
    path = Path(path)
    if path.suffix.lower() != fmt.extension:
        raise ValueError(f"'{path.name}': a {fmt.label} file must end in {fmt.extension}.")
    if fmt.is_image:
        write_spectrogram_png(path, None, source.sample_rate_hz, preset, source=source)
        return
    write_audio_blocks(path, clipping_remedy_blocks(source, remedy), source.sample_rate_hz, source.channels,
                       subtype=fmt.subtype, metadata=_export_tags(fmt, source.metadata))


def clipping_remedy_blocks(source: ExportSource, remedy: str) -> Iterator[np.ndarray]:
    """The export's blocks made safe for a fixed-point file (see :func:`apply_clipping_remedy`),
    each equal to the same frames of the whole-array result, in the memory of one block."""
    from engine.audio.limiter import limit_blocks, normalize_true_peak_blocks

    if remedy == "normalize":
        return normalize_true_peak_blocks(source.read, source.frames, EXPORT_CEILING_DBTP)[1]
    if remedy == "limit":
        return limit_blocks(source.read, source.frames, source.sample_rate_hz, EXPORT_CEILING_DBTP)
    if remedy in ("float", "keep"):
        return source.blocks()
    raise ValueError(f"unknown clipping remedy {remedy!r}; expected one of {', '.join(CLIPPING_REMEDIES)}.")


def apply_clipping_remedy(audio: np.ndarray, sample_rate_hz: int, remedy: str) -> np.ndarray:
    """``audio`` made safe for a fixed-point file: "normalize" (one gain, true peak at
    EXPORT_CEILING_DBTP), "limit" (only the loud moments turned down to it); "float" and "keep"
    leave it as it is. Runs on a worker thread (true peaks are measured oversampled)."""
    blocks = list(clipping_remedy_blocks(ExportSource(sample_rate_hz, {}, audio=audio), remedy))
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((audio.shape[0], 0), np.float32)


def spectrogram_params(preset: str, channels: int) -> Any:
    """The spectrogram parameters of an export of ``channels`` channels (stereo makes a stereo image)."""
    import dataclasses

    from engine.api import get_preset

    params = get_preset(preset)
    return dataclasses.replace(params, stereo=True) if channels == 2 else params


def write_spectrogram_png(path: str | Path, audio: np.ndarray | None, sample_rate_hz: int, preset: str,
                          source: ExportSource | None = None) -> None:
    """Write ``audio`` (or an export ``source``'s: a mix is rendered chunk by chunk on demand) as a
    Riffusion-format spectrogram PNG of ``preset`` (resampled to its rate; stereo audio makes a
    stereo image), with the parameters in its EXIF (worker thread). Written in chunks: memory of
    one analysis chunk and one image row; a PNG too large is refused first with the estimate."""
    from engine.api import export_spectrogram_png

    if source is None:
        source = ExportSource(sample_rate_hz, {}, audio=audio)
    frames = source.frames
    params = spectrogram_params(preset, source.channels)
    if -(-frames * params.sample_rate // sample_rate_hz) < params.hop_length:
        raise ValueError(f"'{Path(path).name}': the audio is shorter than one column of the '{preset}' spectrogram "
                         f"({params.hop_length / params.sample_rate * 1000:.0f} ms).")
    export_spectrogram_png(lambda lo, hi: source.read(lo, hi - lo), frames, sample_rate_hz, params, path)


def write_export(path: str | Path, audio: np.ndarray, sample_rate_hz: int, format_key: str, metadata: dict[str, str],
                 *, preset: str = "riffusion") -> None:
    """Write an export through the engine's writers (runs on a worker thread): audio formats
    with the metadata, the spectrogram image in ``preset``'s parameters."""
    from engine.audio.io import write_audio

    fmt = export_format(format_key)
    path = Path(path)
    if path.suffix.lower() != fmt.extension:
        raise ValueError(f"'{path.name}': a {fmt.label} file must end in {fmt.extension}.")
    if fmt.is_image:
        write_spectrogram_png(path, audio, sample_rate_hz, preset)
        return
    write_audio(path, audio, sample_rate_hz, subtype=fmt.subtype, metadata=_export_tags(fmt, metadata))


def _export_tags(fmt: ExportFormat, metadata: dict[str, str]) -> dict[str, str]:
    if fmt.extension == ".wav" and len(metadata.get("comment", "").encode("utf-8")) > WAV_COMMENT_LIMIT_BYTES:
        return _fit_comment(metadata, WAV_COMMENT_LIMIT_BYTES)
    return metadata


def _fit_comment(metadata: dict[str, str], limit: int) -> dict[str, str]:
    """Drop recipes from the comment tag until it fits ``limit`` bytes (WAV INFO tags are short)."""
    payload = json.loads(metadata["comment"])
    recipes = payload.get("recipes") or [payload["recipe"]]
    fitted = dict(metadata)
    fitted.pop("comment")
    for keep in range(len(recipes) - 1, 0, -1):
        trial = {"recipes": recipes[:keep], "omitted": len(recipes) - keep + payload.get("omitted", 0)}
        comment = json.dumps(trial, sort_keys=True, separators=(",", ":"))
        if len(comment.encode("utf-8")) <= limit:
            fitted["comment"] = comment
            break
    return fitted


# ---------------------------------------------------------------------------------------- drag out

_drag_dir: Path | None = None


def _drag_folder() -> Path:
    global _drag_dir
    if _drag_dir is None or not _drag_dir.exists():
        _drag_dir = Path(tempfile.mkdtemp(prefix="specdiff-drag-"))
        atexit.register(shutil.rmtree, _drag_dir, True)
    return _drag_dir


def safe_file_name(name: str) -> str:
    cleaned = re.sub(r"[^\w\-. ]+", "_", name).strip(" ._")
    return cleaned[:80] or "clip"


def drag_file_path(name: str, suffix: str) -> Path:
    """A new file path for something dragged out of the window, named after ``name`` (made safe
    and unique) in a temporary folder removed when the app exits."""
    folder = _drag_folder()
    path = folder / f"{safe_file_name(name)}{suffix}"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{safe_file_name(name)} {n}{suffix}"
    return path


def clip_drag_mime(clip: Clip) -> QMimeData:
    """Mime data for dragging ``clip`` out of the window: a 32-bit float WAV of its audible audio
    (with gain and recipe) in a temporary folder, as a file URL for file managers and DAWs."""
    path = drag_file_path(clip.name, ".wav")
    write_export(path, render_clip(clip), clip.sample_rate_hz, "wav32f", export_metadata([clip]))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    mime.setData(CLIP_MIME_TYPE, clip.id.encode())
    return mime
