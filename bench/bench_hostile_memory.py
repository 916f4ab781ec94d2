"""Peak memory of hostile and huge inputs through the CLI: this tree against another (e.g. the commit
before issue 17's limits), case by case, in the same run.

Run:  .venv/bin/python bench/bench_hostile_memory.py [--reference /path/to/old/checkout] [--cap-gb 6] [--timeout 180]

Each case runs ``specdiff-cli`` in a fresh process (1 thread) with ``PYTHONPATH`` set to a tree,
under an address-space limit of ``--cap-gb`` above what the imported libraries map (so a runaway
allocation fails instead of taking the machine), and reports the peak resident memory (VmHWM),
the exit status and the first line of stderr ("Traceback" when it crashed). A case still running
at ``--timeout`` is stopped and its peak so far reported. Inputs are made once in a temp folder:

* the issue's EXIF bomb (n_fft 2**20, a 1-sample hop) and a 200 000-column PNG (Riffusion EXIF),
* a 2-hour WAV (sparse file of silence) to a Riffusion image and to a starter-model image,
* a 10-minute sweep to a starter image and back, and 120 s of Riffusion audio back to audio,
* text-to-audio of 180 s and 600 s with the tiny test model (tests/assets/tiny-sd, 2 steps).
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

HARNESS = r"""
import os, resource, sys
import torch, torchaudio, scipy.signal, soundfile, PIL.Image
torch.set_num_threads(1)
import engine.cli
mapped = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (mapped + int(float(sys.argv[1]) * 2**30), resource.RLIM_INFINITY))
sys.exit(engine.cli.main(sys.argv[2:]))
"""


def _status_kb(pid: int, key: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
        return int(text.split(f"{key}:")[1].split()[0])
    except (OSError, IndexError):
        return 0


def run_case(tree: Path, argv: list[str], cap_gb: float, timeout_s: float) -> tuple[float, str, float]:
    """(peak RSS in GB, outcome, seconds)."""
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    start = time.perf_counter()
    # cwd=tree too: ``python -c`` puts the working directory first on sys.path.
    proc = subprocess.Popen([sys.executable, "-c", HARNESS, str(cap_gb), *argv], env=env, cwd=tree,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_kb = 0
    while proc.poll() is None:
        peak_kb = max(peak_kb, _status_kb(proc.pid, "VmHWM"))
        if time.perf_counter() - start > timeout_s:
            proc.kill()
            proc.wait()
            return peak_kb / 2**20, f"still running at {timeout_s:.0f} s (stopped)", timeout_s
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    err = proc.stderr.read()
    if "Traceback" in err:
        last = [line for line in err.splitlines() if line.strip()][-1]
        outcome = f"exit {proc.returncode}, TRACEBACK: {last[:90]}"
    else:
        first = err.strip().splitlines()[0][:110] if err.strip() else ""
        outcome = f"exit {proc.returncode}" + (f": {first}" if first else "")
    return peak_kb / 2**20, outcome, seconds


def sparse_wav(path: Path, seconds: float, rate: int) -> Path:
    data_bytes = int(seconds * rate) * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data_bytes)
    return path


def make_inputs(folder: Path) -> dict[str, list[str]]:
    import soundfile as sf
    from PIL import Image

    sys.path.insert(0, str(ROOT))
    from engine.audio.spectrogram import PRESETS, ExifTag  # noqa: E402 - only for the tag numbers

    def png(path: Path, width: int, exif: dict[int, object]) -> Path:
        pixels = np.full((512, width, 3), 255, dtype=np.uint8)
        pixels[200:260:6] = 40  # a few tones
        image = Image.fromarray(pixels)
        tags = image.getexif()
        tags.update(exif.items())
        image.save(path, exif=tags)
        return path

    riffusion = dict(PRESETS["riffusion"].to_exif())
    riffusion[ExifTag.MAX_VALUE.value] = 1e6
    bomb = dict(riffusion)
    bomb[ExifTag.STEP_SIZE_MS.value] = 1 / 44.1
    bomb[ExifTag.PADDED_DURATION_MS.value] = 2**20 / 44.1
    rate = 22050
    t = np.arange(600 * rate) / rate
    sweep = 0.5 * np.sin(2 * np.pi * (300 * t - 200 * 60 / (2 * np.pi) * np.cos(2 * np.pi * t / 60)))
    sf.write(folder / "ten-minutes.wav", sweep.astype(np.float32), rate, subtype="PCM_16")
    f = folder
    return {
        "EXIF bomb (n_fft 2^20, 1-sample hop), to-audio": ["to-audio", str(png(f / "bomb.png", 64, bomb)), "-o", str(f / "o1.wav")],
        "200 000-column PNG, to-audio": ["to-audio", str(png(f / "wide.png", 200_000, riffusion)), "-o", str(f / "o2.wav")],
        "2-hour WAV, to-image (riffusion)": ["to-image", str(sparse_wav(f / "2h.wav", 7200, 44100)), "-o", str(f / "o3.png")],
        "2-hour WAV, to-image (starter)": ["to-image", str(f / "2h.wav"), "-o", str(f / "o4.png"), "--preset", "starter"],
        "10-minute sweep, to-image (starter)": ["to-image", str(f / "ten-minutes.wav"), "-o", str(f / "10m.png"), "--preset", "starter"],
        "10-minute starter image, to-audio": ["to-audio", str(f / "10m.png"), "-o", str(f / "o5.wav")],
        "120 s Riffusion image, to-audio": ["to-audio", str(png(f / "120s.png", 12_000, riffusion)), "-o", str(f / "o6.wav")],
        **{
            f"{seconds} s tiny-model generation (2 steps)": [
                "generate", "drums", "--model", str(ROOT / "tests" / "assets" / "tiny-sd"), "--steps", "2",
                "--duration", str(seconds), "--seed", "1", "-o", str(f / f"gen{seconds}.wav"), "-q",
            ]
            for seconds in (180, 600)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=None,
                        help="checkout to compare with (e.g. the commit before); without it, this tree only")
    parser.add_argument("--cap-gb", type=float, default=6.0)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = make_inputs(Path(tmp))
        print(f"address-space cap {args.cap_gb:g} GB above the libraries, timeout {args.timeout:g} s, 1 thread")
        for name, argv in cases.items():
            if args.only not in name:
                continue
            trees = (("reference", args.reference),) if args.reference is not None else ()
            for label, tree in (*trees, ("ours", ROOT)):
                Path(argv[argv.index("-o") + 1]).unlink(missing_ok=True)  # the CLI refuses to write over a file
                peak, outcome, seconds = run_case(tree, argv, args.cap_gb, args.timeout)
                print(f"{name:42s} {label:9s} peak {peak:6.2f} GB {seconds:7.1f} s  {outcome}", flush=True)


if __name__ == "__main__":
    main()
