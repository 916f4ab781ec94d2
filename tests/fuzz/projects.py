"""Crafted project files (``.sdproj``) for the fuzz tests and the memory bench.

A valid project made by the real writer is the starting point; the generators change one thing:
a field of ``project.json`` or ``masks.json`` set to a hostile value, a key deleted, deep JSON,
zip bombs (members that inflate to gigabytes from a few megabytes, with honest or lying sizes),
lying directories, ``../`` member names, truncated zips, garbage and pixel-bomb images, WAVs with
65535 channels or NaN samples. :data:`NASTY_CASES` names the cases that once exhausted memory.

Run as a script (``python tests/fuzz/projects.py CASE_DIR [--as-limit-gb N] [CASE ...]``) it loads
each case in this process under an address-space limit and prints one JSON line per case:
``{"case", "outcome" ("ok" or the exception's type), "message", "peak_rss_mb"}``.
"""

from __future__ import annotations

import io
import json
import math
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: the repository root is two folders up
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

MANIFEST = "project.json"
MASKS = "masks.json"
RATE = 8000

#: Values put into every field: wrong types, huge and tiny numbers, non-finite numbers, nesting.
HOSTILE_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 0.5, -0.0, 1e15, -1e15, 1e308, -1e308, 10**400, math.nan, math.inf, -math.inf,
    "", "x", "../../etc/passwd", "audio/../project.json", "a" * 5000, [], [1, 2], {}, {"a": {"b": [1]}},
    [[[[[[[[[[[]]]]]]]]]]],
)


# ------------------------------------------------------------------------------------- valid files


def make_spectrogram_image(width: int = 24, height: int = 16) -> Any:
    """A small RGB spectrogram-like PIL image with Riffusion-style EXIF params."""
    from PIL import Image

    pixels = np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGB")
    exif = image.getexif()
    exif[11080] = "1.5"
    image.info["exif"] = exif.tobytes()
    return image


def make_project(clips: int = 2, seconds: float = 0.05) -> tuple[Any, Any]:
    """A project with one track of ``clips`` clips (the last two share their audio), an image,
    a recipe and a mask: every kind of field the file has."""
    from app.model.mask import Mask, MaskStore, Stroke, TimeBand
    from app.model.project import Clip, Project, Track
    from engine.specs import Recipe

    rng = np.random.default_rng(0)
    project = Project(sample_rate_hz=RATE)
    track = Track(name="Drums", gain_db=-2.0)
    audio = rng.uniform(-0.5, 0.5, (2, int(seconds * RATE))).astype(np.float32)
    recipe = Recipe(task="generate", model_id="starter", model_revision=None, seed=5,
                    params={"prompt": "a tone", "negative_prompt": "", "num_inference_steps": 2,
                            "guidance_scale": 5.0, "scheduler": "ddim"},
                    facts={"width": 64, "height": 64, "spectrogram": {"sample_rate": RATE}})
    for i in range(clips):
        own = audio if i >= clips - 2 and clips >= 2 else rng.uniform(-0.5, 0.5, (1, int(seconds * RATE))).astype(np.float32)
        track.clips.append(Clip(name=f"clip {i}", audio=own, sample_rate_hz=RATE, start_s=0.1 * i, gain_db=-1.0,
                                recipe=recipe if i == 0 else None, image=make_spectrogram_image() if i == 0 else None,
                                source_path=f"/tmp/src{i}.wav" if i else None))
    project.add_track(track)
    masks = MaskStore()
    masks.set_mask(track.clips[0].id, Mask((Stroke(((0.01, 500.0), (0.03, 900.0)), 0.01, 40.0, 0.5), TimeBand(0.0, 0.02))))
    return project, masks


def valid_project_file(path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`make_project` with the real writer."""
    from app.model.project_files import save_project_file

    project, masks = make_project(**kwargs)
    save_project_file(project, masks, path)
    return Path(path)


def read_members(path: str | Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_members(path: str | Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return Path(path)


def with_json(src: str | Path, dst: str | Path, member: str, change: Callable[[Any], Any]) -> Path:
    """Copy ``src`` to ``dst`` with JSON ``member`` replaced by ``change(parsed)`` (mutate and
    return None, or return a new value)."""
    members = read_members(src)
    data = json.loads(members[member])
    changed = change(data)
    members[member] = json.dumps(data if changed is None else changed, allow_nan=True).encode()
    return write_members(dst, members)


def field_paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path into a JSON value (objects by key, lists by index), containers included."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from field_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from field_paths(child, (*prefix, i))


def set_path(root: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        root = root[key]
    root[path[-1]] = value


def delete_path(root: Any, path: tuple) -> None:
    for key in path[:-1]:
        root = root[key]
    del root[path[-1]]


# ------------------------------------------------------------------------------------- raw pieces


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def zeros_deflate(size: int, head: bytes = b"") -> bytes:
    """Raw deflate data that inflates to ``head`` and then zeros, ``size`` bytes in all (a
    multiple of 1 MiB), built in milliseconds: after a full flush every 1 MiB block of zeros
    compresses to the same bytes, so one is repeated."""
    mib = 1 << 20
    assert size % mib == 0 and size >= 2 * mib
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head + bytes(mib - len(head))) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(bytes(mib)) + comp.flush(zlib.Z_FULL_FLUSH)
    probe = comp.copy()
    assert probe.compress(bytes(mib)) + probe.flush(zlib.Z_FULL_FLUSH) == block
    return first + block * (size // mib - 1) + comp.flush()


def raw_zip(members: list[tuple[str, bytes, int, int, int]], directory_size: int | None = None) -> bytes:
    """A zip written by hand from ``(name, stored_bytes, method, crc, declared_size)``: the
    declared sizes and the end record's directory size may lie (no zip64: sizes below 4 GiB)."""
    out = io.BytesIO()
    central = []
    for name, data, method, crc, declared in members:
        offset = out.tell()
        raw = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), declared, len(raw), 0))
        out.write(raw + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data),
                                   declared, len(raw), 0, 0, 0, 0, 0, offset) + raw)
    start = out.tell()
    out.write(b"".join(central))
    size = out.tell() - start if directory_size is None else directory_size
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), size, start, 0))
    return out.getvalue()


def wav_header(frames: int, channels: int = 1, rate: int = RATE, bits: int = 32, fmt: int = 3) -> bytes:
    """A canonical 44-byte WAV header (``fmt`` 3 = IEEE float) announcing ``frames`` frames."""
    block = channels * bits // 8
    data = frames * block
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, fmt, channels, rate, rate * block, block, bits) + b"data" + struct.pack("<I", data))


def wav_bytes(audio: np.ndarray, rate: int = RATE) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.ascontiguousarray(audio.T), rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_pixel_bomb(width: int, height: int) -> bytes:
    """A PNG header announcing ``width`` x ``height`` RGB pixels, followed by a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(bytes(64))) + png_chunk(b"IEND", b"")


def manifest_for(audio_members: list[str], image: str | None = None, **clip_fields: Any) -> dict:
    """A minimal valid manifest with one clip per audio member."""
    clips = [{"id": f"c{i}", "name": f"clip {i}", "audio": key, "sample_rate_hz": RATE, "start_s": 0.0,
              "offset_s": 0.0, "duration_s": None, "gain_db": 0.0, "recipe": None, "image": image if i == 0 else None,
              "source_path": None, "spectrogram_preset": "riffusion", **clip_fields} for i, key in enumerate(audio_members)]
    return {"format": "specdiff-project", "version": 1, "sample_rate_hz": RATE, "playhead_s": 0.0,
            "tracks": [{"id": "t0", "name": "Track 1", "gain_db": 0.0, "mute": False, "solo": False, "clips": clips}]}


def _stored(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return name, data, zipfile.ZIP_STORED, zlib.crc32(data), len(data)


# ------------------------------------------------------------------------------------- nasty cases


def _bomb(folder: Path, name: str, size: int, declared: int, head: bytes = b"") -> Path:
    manifest = json.dumps(manifest_for(["audio/0000.wav"])).encode()
    bomb = ("audio/0000.wav", zeros_deflate(size, head), zipfile.ZIP_DEFLATED, 0, declared)
    return _write(folder / name, raw_zip([_stored(MANIFEST, manifest), bomb]))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def crafted(folder: Path, filename: str, members: dict[str, bytes] | None = None, audio: list[str] | None = None,
            image: str | None = None, **clip_fields: Any) -> Path:
    """A project of one clip per ``audio`` member (silent WAVs) with ``clip_fields`` set, and
    ``members`` put in as given (replacing what is there)."""
    audio = audio or ["audio/0000.wav"]
    out = {MANIFEST: json.dumps(manifest_for(audio, image, **clip_fields), allow_nan=True).encode()}
    out.update({key: wav_bytes(np.zeros((1, 400), np.float32)) for key in audio})
    out.update(members or {})
    return write_members(folder / filename, out)


GB = 1_000_000_000
MIB = 1 << 20

#: name -> builder(folder) -> path. Each once exhausted memory or escaped as a traceback.
NASTY_CASES: dict[str, Callable[[Path], Path]] = {
    # 3.9 GB of zeros in 4 MB: sizes declared honestly, then a lying small size (inflates past it).
    "zip bomb, honest size": lambda d: _bomb(d, "bomb-honest.sdproj", 3900 * MIB, 3900 * MIB),
    "zip bomb, WAV header + 3.9 GB of silence": lambda d: _bomb(
        d, "bomb-wav.sdproj", 3900 * MIB, 3900 * MIB, wav_header((3900 * MIB - 44) // 4)),
    "zip bomb, lying small size": lambda d: _bomb(d, "bomb-lying.sdproj", 3900 * MIB, 10 * MIB),
    "huge declared project.json": lambda d: _write(d / "huge-manifest.sdproj", raw_zip(
        [(MANIFEST, b"{}", zipfile.ZIP_STORED, zlib.crc32(b"{}"), 0xFFFFFFF0)])),
    "directory claims 1 GB": lambda d: _write(d / "big-directory.sdproj", raw_zip(
        [_stored(MANIFEST, b"{}")], directory_size=GB)),
    "project.json nested 1e6 deep": lambda d: write_members(d / "deep.sdproj", {MANIFEST: deep_json(1_000_000)}),
    "masks.json nested 1e6 deep": lambda d: crafted(d, "deep-masks.sdproj", {MASKS: deep_json(1_000_000)}),
    "recipe nested 30 deep": lambda d: crafted(d, "deep-recipe.sdproj", recipe={"extra": json.loads(deep_json(30))}),
    "16 MB of empty objects": lambda d: write_members(d / "objects.sdproj", {MANIFEST: b"[" + b"{}," * (16 * MIB // 3 - 2) + b"{}]"}),
    "200-megapixel PNG": lambda d: crafted(d, "pixels.sdproj", {"images/0000.png": png_pixel_bomb(20000, 10000)},
                                           image="images/0000.png"),
    "garbage PNG": lambda d: crafted(d, "garbage-png.sdproj", {"images/0000.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8},
                                     image="images/0000.png"),
    "WAV with 65535 channels": lambda d: crafted(d, "channels.sdproj", {
        "audio/0000.wav": wav_header(10, channels=65535, bits=8, fmt=1) + bytes(10 * 65535)}),
    "WAV header claims 1e9 frames": lambda d: crafted(d, "frames.sdproj", {"audio/0000.wav": wav_header(10**9) + bytes(4000)}),
    "NaN samples": lambda d: crafted(d, "nan.sdproj", {"audio/0000.wav": wav_bytes(np.full((1, 400), np.nan, np.float32))}),
    "clip start 1e15": lambda d: crafted(d, "start.sdproj", start_s=1e15),
    "clip gain 1e308": lambda d: crafted(d, "gain.sdproj", gain_db=1e308),
    "clip name is an object": lambda d: crafted(d, "name.sdproj", name={"a": 1}),
    "../ member names": lambda d: crafted(d, "dotdot.sdproj", audio=["audio/../../evil.wav"]),
    "50 001 clips": lambda d: write_members(d / "clips.sdproj", {MANIFEST: json.dumps(
        {**manifest_for([]), "tracks": [{"id": "t", "name": "t", "gain_db": 0, "mute": False, "solo": False,
                                         "clips": [{}] * 50_001}]}).encode()}),
}


def peak_rss_mb() -> int:
    """This process's peak resident memory in MB since it started (exec). Not ``ru_maxrss``: that
    keeps the high-water mark of the forked parent (a test run of 2 GB) across ``execve``."""
    status = Path("/proc/self/status").read_text()
    return round(int(status.split("VmHWM:")[1].split()[0]) / 1024)


def run_cases(folder: Path, names: list[str], as_limit_bytes: int | None) -> Iterator[dict]:
    """Load each case in this process (under an address-space limit if given); one dict each."""
    import resource

    if as_limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (as_limit_bytes, as_limit_bytes))
    from app.model.project_files import load_project_file

    for name in names:
        path = NASTY_CASES[name](folder)
        try:
            load_project_file(path)
            outcome, message = "ok", ""
        except BaseException as exc:  # noqa: BLE001 - the point is to see what escapes
            outcome, message = type(exc).__name__, str(exc)
        yield {"case": name, "outcome": outcome, "message": message[:300],
               "peak_rss_mb": peak_rss_mb()}
        path.unlink()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--as-limit-gb", type=float, default=None, help="address-space limit (ulimit -v), GB")
    args = parser.parse_args()
    limit = int(args.as_limit_gb * GB) if args.as_limit_gb else None
    for result in run_cases(args.folder, args.cases or list(NASTY_CASES), limit):
        print(json.dumps(result), flush=True)
