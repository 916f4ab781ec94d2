"""Limits on work whose size the input decides (torch-free, no Qt).

A 10 kB PNG can ask for a 200 000-column spectrogram, and a WAV header for hours of audio. Every
place where the input decides how much memory the engine will need checks it here first, and a
request that is too big is refused *before* allocating, by :class:`ResourceLimitError` (a
ValueError, so the CLI prints it as one line) whose message gives the size, the estimate and the
limit. Long audio that fits is processed in chunks (see engine.audio.spectrogram and
engine.audio.inversion), so these estimates are dominated by the input and output arrays.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = [
    "MAX_AUDIO_DURATION_S",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_WIDTH",
    "MAX_PROMPT_CHARS",
    "ResourceLimitError",
    "available_memory_bytes",
    "check_memory",
    "check_image_size",
    "check_prompt",
    "format_bytes",
    "format_duration",
    "generation_windows",
    "open_image",
]

#: Longest audio file read whole (a 4-hour stereo 48 kHz file is 5.5 GB as float32).
MAX_AUDIO_DURATION_S = 4 * 3600.0
#: Widest spectrogram image (columns); with Riffusion's 10 ms columns, 2.9 hours.
MAX_IMAGE_WIDTH = 1 << 20
#: Most pixels (width x height) of a spectrogram image decoded or built: 43 minutes of Riffusion's
#: 512-row images, 2.9 hours of the starter model's 128 rows. Below Pillow's own bomb limit.
MAX_IMAGE_PIXELS = 1 << 27
#: Longest prompt (characters); CLIP reads 77 tokens, the rest only costs memory and file space.
MAX_PROMPT_CHARS = 2000
#: Fraction of the available memory a single request may plan to use.
MEMORY_HEADROOM = 0.8
_ALWAYS_FITS_BYTES = 256 * 2**20

#: Generated clips up to this long are drawn as one image (time and attention memory grow with
#: the square of the width); longer ones (up to engine.specs.MAX_DURATION_S) window by window:
#: windows of LONG_WINDOW_S seconds, each seeing LONG_CONTEXT_S seconds of the one before and
#: fading LONG_FEATHER_PX columns into it (engine.pipelines.generate.long_windows).
WHOLE_MAX_S = 30.0
LONG_WINDOW_S = 10.24
LONG_CONTEXT_S = 2.56
LONG_FEATHER_PX = 8


class ResourceLimitError(ValueError):
    """A request would need more memory (or a bigger input) than the engine allows; nothing was allocated."""


def format_bytes(n: float) -> str:
    """``1.5 GB``, ``320 MB``: decimal units, as a user reads them."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def format_duration(seconds: float) -> str:
    """``2:00:00`` / ``43:41`` / ``5.1 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def available_memory_bytes() -> int | None:
    """Memory the system can give this process now (psutil's ``available``), or None if unknown."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # pragma: no cover - psutil is a dependency; be safe on odd platforms
        return None


def check_memory(estimate_bytes: float, what: str, advice: str = "") -> None:
    """Refuse ``what`` if it would need more than the memory available now (with headroom).

    Raises:
        ResourceLimitError: naming ``what``, the estimate and what is available.
    """
    if estimate_bytes < _ALWAYS_FITS_BYTES:  # not worth asking the system
        return
    available = available_memory_bytes()
    if available is None or estimate_bytes <= MEMORY_HEADROOM * available:
        return
    raise ResourceLimitError(
        f"{what} would need about {format_bytes(estimate_bytes)} of memory and "
        f"{format_bytes(available)} is available{'; ' + advice if advice else ''}."
    )


def check_image_size(width: int, height: int, what: str, seconds_per_column: float | None = None) -> None:
    """Refuse a spectrogram image wider than :data:`MAX_IMAGE_WIDTH` or larger than :data:`MAX_IMAGE_PIXELS`.

    ``seconds_per_column`` (when known) turns the limit into a duration in the message.

    Raises:
        ResourceLimitError: the size, the limit and (when known) how much audio the limit holds.
    """
    if width <= MAX_IMAGE_WIDTH and width * height <= MAX_IMAGE_PIXELS:
        return
    columns = min(MAX_IMAGE_WIDTH, MAX_IMAGE_PIXELS // max(1, height))
    span = ""
    if seconds_per_column:
        span = (
            f" ({format_duration(width * seconds_per_column)} of audio; at most "
            f"{format_duration(columns * seconds_per_column)} at {seconds_per_column * 1000:g} ms per column)"
        )
    raise ResourceLimitError(
        f"{what} is {width}x{height} px = {width * height / 1e6:.1f} megapixels{span}; the limit is "
        f"{columns} columns of {height} rows ({MAX_IMAGE_PIXELS / 1e6:.1f} megapixels, {format_bytes(3 * width * height)} "
        "as RGB) - split it into shorter parts."
    )


def generation_windows(duration_s: float, params: Any) -> int:
    """How many windows a generated clip of ``duration_s`` seconds (spectrogram ``params``) is
    drawn in: 1 up to :data:`WHOLE_MAX_S`, else one per ``window - context - feather`` columns."""
    from engine.audio.params import width_for_duration

    width = width_for_duration(params, duration_s)
    if width <= width_for_duration(params, WHOLE_MAX_S):
        return 1
    window = min(width_for_duration(params, LONG_WINDOW_S), width)
    step = window - width_for_duration(params, LONG_CONTEXT_S) - LONG_FEATHER_PX
    return -(-width // step)


def check_prompt(text: object, what: str = "the prompt") -> None:
    """Refuse a prompt longer than :data:`MAX_PROMPT_CHARS` characters (ValueError naming the length)."""
    if isinstance(text, str) and len(text) > MAX_PROMPT_CHARS:
        raise ResourceLimitError(
            f"{what} is {len(text)} characters long; at most {MAX_PROMPT_CHARS} are accepted "
            "(the text encoder reads only the first 77 tokens)."
        )


@contextlib.contextmanager
def open_image(path: Any, what: str = "image") -> Iterator[Any]:
    """``PIL.Image.open`` with its failures turned into one-line ValueErrors, and the size checked first.

    The header's size is checked against :func:`check_image_size` before any pixel is decoded, and
    Pillow's own decompression-bomb warning/error, unreadable or truncated data all become
    :class:`ResourceLimitError` or ValueError naming the file. Yields the opened (lazy) image.
    """
    from PIL import Image, UnidentifiedImageError

    name = f"'{path}'" if not hasattr(path, "read") else what
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies
            opened = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ResourceLimitError(f"{name} is too large to decode: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ValueError(f"{name} is not a readable image: {str(exc).strip() or type(exc).__name__}") from None
    with opened:
        check_image_size(opened.width, opened.height, f"the image {name}")
        yield opened


def load_image(path: Any, what: str = "image") -> Any:
    """Open, check and fully decode an image (a copy that keeps ``info``); errors as :func:`open_image`."""
    with open_image(path, what) as opened:
        try:
            image = opened.copy()
        except MemoryError:
            raise ResourceLimitError(
                f"decoding {what} ({opened.width}x{opened.height} px) ran out of memory"
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ValueError(f"{what} cannot be decoded (corrupt or truncated): {exc}") from None
        image.info.update(opened.info)
    return image


def image_decode_bytes(width: int, height: int, channels: int, samples: int, chunk_bytes: int) -> int:
    """Peak memory of decoding a ``width`` x ``height`` spectrogram to ``samples`` samples per channel.

    The RGB pixels (twice: Pillow's and numpy's copy), the float32 mel, the output audio three
    times (the grid-rate waveform, the waveform, its normalised copy) and one inversion chunk.
    """
    return 6 * width * height + 4 * channels * height * width + 3 * 4 * channels * samples + chunk_bytes


def image_encode_bytes(width: int, height: int, channels: int, samples: int, chunk_bytes: int) -> int:
    """Peak memory of building a ``width`` x ``height`` image from ``samples`` samples per channel:
    the audio, the float32 mel, the RGB pixels (numpy's and Pillow's) and one analysis chunk."""
    return 4 * channels * samples + 4 * channels * height * width + 6 * width * height + chunk_bytes

