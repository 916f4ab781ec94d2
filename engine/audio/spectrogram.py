"""Audio <-> Riffusion-style spectrogram images (Qt-free).

The pixel mapping, the EXIF tags and the STFT/mel settings are Riffusion's
(``riffusion/spectrogram_params.py``, ``spectrogram_converter.py``,
``util/image_util.py``), so images made here decode in Riffusion and images made
by Riffusion (or by any Riffusion-style checkpoint) decode here.

Scale: Riffusion feeds pydub's int16 sample values as floats, so its mel
amplitudes (and the ``MAX_VALUE`` EXIF tag) are on the int16 scale. We multiply
float audio by :data:`INT16_SCALE` (32768, exactly the factor soundfile divides
16-bit files by), which gives Riffusion's numbers for the same file.

Image layout: height = ``num_frequencies`` mel bins, row 0 = highest frequency
(the image is flipped), width = STFT frames (one per ``hop_length`` samples).
Pixel value ``255 - 255 * (mel / max) ** power_for_image`` truncated to uint8,
so silence is white. Mono images repeat the value in R, G and B (Riffusion
decodes R); stereo images put the left channel in G and the right in B (R = 0).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
import torchaudio
from PIL import Image

from engine.audio.io import atomic_output_path, peak_normalize, to_channels, validate_audio
from engine.audio.limits import check_image_size, check_memory, format_duration

# The parameters, presets and EXIF tags are torch-free (engine.audio.params); re-exported here so
# code that computes spectrograms finds everything in one module.
from engine.audio import params as _params
from engine.audio.params import (
    DEFAULT_MAX_VALUE,
    INT16_SCALE,
    OUTPUT_PEAK,
    PRESETS,
    ExifTag,
    SpectrogramExifError,
    SpectrogramParams,
    SpectrogramParamsError,
    _check_width,
    _is_real,
    duration_for_width,
    get_preset,
    has_spectrogram_exif,
    max_value_from_exif,
    samples_for_width,
    width_for_duration,
)
from engine.cancel import cancel_point

if TYPE_CHECKING:
    from engine.audio.inversion import Vocoder

__all__ = [  # the torch-free names of engine.audio.params, then what needs torch
    *_params.__all__,
    "mel_from_audio",
    "mel_chunks",
    "image_from_mel",
    "image_from_audio",
    "check_audio_for_image",
    "mel_from_image",
    "mel_from_pixels",
    "audio_from_mel",
    "audio_from_image",
    "save_spectrogram_image",
]

#: STFT bins (frames x (n_fft // 2 + 1)) analysed at once by :func:`mel_from_audio` (~8 MB complex;
#: Riffusion: 118 frames, 1.2 s of audio, a chunk: well under 0.1 s between cancel points).
ANALYSIS_CHUNK_BINS = 1 << 20


# --------------------------------------------------------------------------- audio -> mel


@functools.lru_cache(maxsize=8)
def _analysis(params: SpectrogramParams, device: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Riffusion's exact torchaudio Spectrogram + MelScale, cached per params and device."""
    spectrogram = torchaudio.transforms.Spectrogram(
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        win_length=params.win_length,
        pad=0,
        window_fn=torch.hann_window,
        power=None,
        normalized=False,
        wkwargs=None,
        center=True,
        pad_mode="reflect",
        onesided=True,
    ).to(device)
    mel_scale = torchaudio.transforms.MelScale(
        n_mels=params.num_frequencies,
        sample_rate=params.sample_rate,
        f_min=params.min_frequency,
        f_max=params.max_frequency,
        n_stft=params.n_fft // 2 + 1,
        norm=params.mel_scale_norm,
        mel_scale=params.mel_scale_type,
    ).to(device)
    return spectrogram, mel_scale


def _channels_for(audio: np.ndarray, params: SpectrogramParams) -> np.ndarray:
    return to_channels(audio, 2 if params.stereo else 1)


def mel_from_audio(
    audio: np.ndarray | torch.Tensor, params: SpectrogramParams, *, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Mel amplitudes of ``audio`` exactly as Riffusion computes them.

    Args:
        audio: float samples ``(channels, samples)`` at ``params.sample_rate``, full scale +/-1.
            Mono params downmix (mean of channels); stereo params clone a mono input
            and keep the first two channels of wider input.
        params: spectrogram settings.
        device: torch device for the STFT.

    Returns:
        float32 ``(channels, num_frequencies, frames)`` on Riffusion's int16 scale,
        ``frames = 1 + samples // hop_length`` (centred frames, reflect padding).
        Audio shorter than half an FFT frame is zero-padded first (Riffusion would fail).

    Raises:
        ValueError: integer samples; the engine.audio.io validation errors for a bad array.
    """
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    audio = np.asarray(audio)
    validate_audio(audio, params.sample_rate, "mel_from_audio audio")
    if audio.dtype.kind != "f":
        raise ValueError(
            f"mel_from_audio: expected float samples in [-1, 1], got dtype {audio.dtype} "
            "(divide integer PCM by 2**(bits - 1) first)"
        )
    samples = audio.shape[1]
    n_frames = 1 + samples // params.hop_length
    half = params.n_fft // 2
    if samples <= half:  # reflect padding needs more than half a frame
        audio = np.pad(audio, ((0, 0), (0, half + 1 - samples)))
        samples = audio.shape[1]
    channels = 2 if params.stereo else 1
    check_memory(
        4.0 * channels * params.num_frequencies * n_frames + 16.0 * ANALYSIS_CHUNK_BINS,
        f"the spectrogram of {format_duration(samples / params.sample_rate)} of audio",
    )
    mel = np.empty((channels, params.num_frequencies, n_frames), dtype=np.float32)
    for first, last, chunk in mel_chunks(lambda lo, hi: audio[:, lo:hi], samples, params, device=device,
                                         n_frames=n_frames):
        mel[:, :, first:last] = chunk
    return mel


def mel_chunks(
    read: Callable[[int, int], np.ndarray], samples: int, params: SpectrogramParams, *,
    device: str | torch.device = "cpu", n_frames: int | None = None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """The mel frames of ``samples`` samples, chunk by chunk: ``(first, last, mel[:, :, first:last])``.

    ``read(lo, hi)`` gives samples ``[lo, hi)`` (``0 <= lo < hi <= samples``) as float
    ``(channels, hi - lo)`` at ``params.sample_rate``: an array's slice, or a file read block by
    block, so memory is that of one chunk of about :data:`ANALYSIS_CHUNK_BINS` STFT bins (the STFT
    of a whole 2-hour file would be 50 GB). Frame j is centred on sample j * hop of the
    reflect-padded signal; each chunk takes the samples its frames cover and pads only at the
    file's ends, exactly as the one-shot centred STFT does, so the result is the same.
    ``samples`` must exceed half an FFT frame (``mel_from_audio`` zero-pads shorter audio);
    ``n_frames`` (default ``1 + samples // hop_length``) stops earlier.
    """
    spectrogram, mel_scale = _analysis(params, str(torch.device(device)))
    hop, half = params.hop_length, params.n_fft // 2
    if n_frames is None:
        n_frames = 1 + samples // hop
    step = max(1, ANALYSIS_CHUNK_BINS // (params.n_fft // 2 + 1))
    for first in range(0, n_frames, step):
        cancel_point()
        last = min(n_frames, first + step)  # frames [first, last)
        lo, hi = first * hop - half, (last - 1) * hop + half + 1
        piece = read(max(0, lo), min(samples, hi))
        wave = _channels_for(piece, params) * np.float32(INT16_SCALE)
        wave = np.pad(wave, ((0, 0), (max(0, -lo), max(0, hi - samples))), mode="reflect")
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(wave)).to(device)
            spectrum = torch.stft(
                x, params.n_fft, hop, params.win_length, window=spectrogram.window, center=False,
                normalized=False, onesided=True, return_complex=True,
            )
            yield first, last, mel_scale(torch.abs(spectrum))[..., : last - first].cpu().numpy()


# --------------------------------------------------------------------------- mel -> image


def image_from_mel(mel: np.ndarray, params: SpectrogramParams) -> Image.Image:
    """Riffusion's spectrogram image of mel amplitudes.

    Args:
        mel: ``(channels, num_frequencies, frames)`` non-negative amplitudes (1 or 2
            channels; 2 only with ``params.stereo``).
        params: stored in the image's EXIF with ``MAX_VALUE = mel.max()``.

    Returns:
        RGB image ``frames`` wide and ``num_frequencies`` tall. All-zero mel gives a
        white image with MAX_VALUE 0 (it decodes back to silence).

    Raises:
        ValueError: wrong shape, channel count or height, negative or non-finite values.
    """
    mel = np.asarray(mel, dtype=np.float32)
    channels = 2 if params.stereo else 1
    if mel.ndim != 3 or mel.shape[0] != channels:
        raise ValueError(
            f"image_from_mel: expected mel shaped ({channels}, {params.num_frequencies}, frames) "
            f"for {'stereo' if params.stereo else 'mono'} params, got {mel.shape}"
        )
    if mel.shape[1] != params.num_frequencies:
        raise ValueError(
            f"image_from_mel: mel has {mel.shape[1]} bins but params.num_frequencies is {params.num_frequencies}"
        )
    if mel.shape[2] < 1:
        raise ValueError("image_from_mel: mel has no frames")
    width = mel.shape[2]
    max_value = np.float32(0)
    for block in _column_blocks(width, mel.shape[0] * mel.shape[1]):
        part = mel[:, :, block]
        if not np.isfinite(part).all() or (part < 0).any():
            raise ValueError("image_from_mel: mel amplitudes must be finite and >= 0")
        max_value = max(max_value, np.max(part))
    # Built in column blocks so the float temporaries stay small next to the uint8 image.
    pixels = np.zeros((params.num_frequencies, width, 3), dtype=np.uint8)
    for block in _column_blocks(width, mel.shape[0] * mel.shape[1]):
        if max_value > 0:
            # Riffusion's image_from_spectrogram, step by step and in float32.
            data = mel[:, :, block] / max_value
            data = np.power(data, params.power_for_image)
            data = data * 255
            data = 255 - data
            data = data.astype(np.uint8)
        else:
            data = np.full((channels, params.num_frequencies, block.stop - block.start), 255, dtype=np.uint8)
        data = data[:, ::-1, :]  # flip Y: row 0 is the highest frequency
        if channels == 1:
            pixels[:, block] = data[0][:, :, None]
        else:
            pixels[:, block, 1] = data[0]
            pixels[:, block, 2] = data[1]
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif.update(params.to_exif().items())
    exif[ExifTag.MAX_VALUE.value] = float(max_value)
    return image


def _column_blocks(width: int, rows: int) -> list[slice]:
    """Column ranges of about :data:`ANALYSIS_CHUNK_BINS` values of ``rows`` rows each."""
    step = max(1, ANALYSIS_CHUNK_BINS // max(1, rows))
    return [slice(start, min(width, start + step)) for start in range(0, width, step)]




def image_from_audio(
    audio: np.ndarray, params: SpectrogramParams, *, width: int | None = None
) -> Image.Image:
    """Spectrogram image of ``audio`` (``(channels, samples)`` at ``params.sample_rate``).

    ``width`` defaults to ``samples // hop_length``; the frame count is cropped (or
    padded with silence) to exactly ``width`` columns before normalisation, so
    column ``i`` covers ``[i * hop, (i + 1) * hop)`` samples (frame centred at ``i * hop``).

    Raises:
        ValueError: bad width, or audio shorter than one hop with no width given;
        the engine.audio.io validation errors for a bad array.
    """
    audio = np.asarray(audio)
    if width is None:
        width = audio.shape[-1] // params.hop_length
        if width < 1:
            raise ValueError(
                f"image_from_audio: {audio.shape[-1]} samples is shorter than one column "
                f"({params.hop_length} samples); pass width or longer audio"
            )
    width = _check_width(width, "image_from_audio")
    check_audio_for_image(audio.shape[-1], params.sample_rate, params, width)
    mel = mel_from_audio(audio, params)
    if mel.shape[2] >= width:
        mel = mel[:, :, :width]
    else:
        mel = np.pad(mel, ((0, 0), (0, 0), (0, width - mel.shape[2])))
    return image_from_mel(mel, params)


def check_audio_for_image(samples: int, sample_rate_hz: int, params: SpectrogramParams, width: int | None = None) -> int:
    """The width of the image of ``samples`` samples at ``sample_rate_hz`` (resampled to the params'
    rate), after refusing an image too large to build - by size or by memory - before any work.

    Raises:
        engine.audio.limits.ResourceLimitError: the size, the duration it holds and the limit, or
            the memory estimate and what is available.
    """
    at_rate = -(-samples * params.sample_rate // sample_rate_hz)
    if width is None:
        width = at_rate // params.hop_length
    seconds_per_column = params.hop_length / params.sample_rate
    check_image_size(width, params.num_frequencies, "the spectrogram image", seconds_per_column)
    channels = 2 if params.stereo else 1
    frames = 1 + at_rate // params.hop_length
    check_memory(
        8.0 * channels * at_rate + 4.0 * channels * params.num_frequencies * frames
        + 6.0 * width * params.num_frequencies + 16.0 * ANALYSIS_CHUNK_BINS,
        f"a {width}x{params.num_frequencies} px spectrogram image of {format_duration(width * seconds_per_column)}",
    )
    return width




def save_spectrogram_image(image: Image.Image, path: str | os.PathLike[str]) -> None:
    """Save a spectrogram image (PNG/JPEG/...) atomically *with* its EXIF params.

    Pillow drops EXIF on ``save`` unless it is passed explicitly; this helper does.

    Raises:
        engine.audio.io.AudioWriteError: the file cannot be written.
    """
    dest = Path(path)
    fmt = Image.registered_extensions().get(dest.suffix.lower())
    if fmt is None:
        raise ValueError(f"{dest}: unknown image suffix {dest.suffix!r}")
    with atomic_output_path(dest) as tmp:
        image.save(tmp, format=fmt, exif=image.getexif())


# --------------------------------------------------------------------------- image -> mel




def mel_from_pixels(
    pixels: np.ndarray, params: SpectrogramParams, max_value: float | None = None
) -> np.ndarray:
    """Mel amplitudes from raw image pixels (skips PIL; what diffusers pipelines output).

    Args:
        pixels: ``(height, width, 3)`` uint8 (0..255) or float in [0, 1] (floats are
            used unquantised; values slightly outside [0, 1] are clipped). Row 0 is
            the highest frequency. Mono params read R, stereo params read G and B.
        params: the image's spectrogram params; height must equal ``num_frequencies``.
        max_value: int16-scale amplitude of white-to-black; default :data:`DEFAULT_MAX_VALUE`.

    Returns:
        float32 ``(channels, num_frequencies, width)``, row 0 = lowest frequency.

    Raises:
        ValueError: wrong shape/height/dtype, non-finite floats or a bad max_value.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"mel_from_pixels: expected pixels shaped (height, width, 3), got {pixels.shape}")
    if pixels.shape[0] != params.num_frequencies:
        raise ValueError(
            f"mel_from_pixels: image height {pixels.shape[0]} does not match "
            f"params.num_frequencies {params.num_frequencies}"
        )
    if pixels.shape[1] < 1:
        raise ValueError("mel_from_pixels: image has zero width")
    if max_value is None:
        max_value = DEFAULT_MAX_VALUE
    if not _is_real(max_value) or max_value < 0:
        raise ValueError(f"mel_from_pixels: max_value must be a finite number >= 0, got {max_value!r}")
    if pixels.dtype != np.uint8 and pixels.dtype.kind != "f":
        raise ValueError(f"mel_from_pixels: pixels must be uint8 or float in [0, 1], got dtype {pixels.dtype}")
    channels = 2 if params.stereo else 1
    width = pixels.shape[1]
    out = np.empty((channels, params.num_frequencies, width), dtype=np.float32)
    for block in _column_blocks(width, channels * params.num_frequencies):  # bounded temporaries
        planes = pixels[::-1, block, 1:3] if params.stereo else pixels[::-1, block, 0:1]
        planes = np.moveaxis(planes, 2, 0)
        if pixels.dtype == np.uint8:
            data = 255 - planes.astype(np.float32)
            data = data / 255
        else:
            if not np.isfinite(planes).all():
                raise ValueError("mel_from_pixels: float pixels contain NaN or infinity")
            data = 1 - np.clip(planes.astype(np.float32), 0.0, 1.0)
        data = np.power(data, np.float32(1 / params.power_for_image))
        out[:, :, block] = data * np.float32(max_value)
    return out


def mel_from_image(
    image: Image.Image, params: SpectrogramParams | None = None, *, max_value: float | None = None
) -> tuple[np.ndarray, SpectrogramParams]:
    """Mel amplitudes from a spectrogram image.

    Args:
        image: a Riffusion-style image (any PIL mode; converted to RGB).
        params: when None, read from the EXIF tags; an image with no spectrogram
            tags at all (e.g. a raw model output) falls back to the ``riffusion`` preset.
        max_value: when None, the EXIF MAX_VALUE tag, else :data:`DEFAULT_MAX_VALUE`.

    Returns:
        ``(mel, params)``: float32 ``(channels, num_frequencies, width)`` and the params used.

    Raises:
        SpectrogramExifError: EXIF with only some of the tags, or bad values.
        ValueError: height differs from ``num_frequencies`` (both are named).
    """
    try:
        exif = image.getexif()
    except Exception as exc:  # Pillow raises SyntaxError, ValueError, struct.error... on garbage EXIF
        raise SpectrogramExifError(
            f"the image's EXIF block is unreadable ({type(exc).__name__}: {str(exc).strip() or 'corrupt'}); "
            "it cannot say how to decode the image"
        ) from None
    if params is None:
        params = SpectrogramParams.from_exif(exif) if has_spectrogram_exif(exif) else PRESETS["riffusion"]
    check_image_size(image.width, image.height, "the spectrogram image", params.hop_length / params.sample_rate)
    if image.height != params.num_frequencies:
        raise ValueError(
            f"mel_from_image: image height {image.height} does not match "
            f"params.num_frequencies {params.num_frequencies}"
        )
    if max_value is None:
        max_value = max_value_from_exif(exif)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return mel_from_pixels(np.asarray(image), params, max_value), params


# --------------------------------------------------------------------------- mel -> audio


def audio_from_mel(
    mel: np.ndarray,
    params: SpectrogramParams,
    *,
    vocoder: Vocoder | None = None,
    device: str | torch.device = "cpu",
    generator: torch.Generator | None = None,
) -> np.ndarray:
    """Audio from mel amplitudes ``(channels, num_frequencies, width)``.

    Args:
        vocoder: defaults to the default vocoder (``engine.vocoders.factory.make_vocoder()``:
            Griffin-Lim) with ``params.num_griffin_lim_iters`` iterations on ``device``.
        generator: seeds the vocoder's phase initialisation (same seed, same audio).

    Returns:
        float32 ``(channels, width * hop_length)`` peak-normalised to :data:`OUTPUT_PEAK`
        (silence stays zeros).

    Raises:
        ValueError: wrong shape or non-finite/negative values.
    """
    mel = np.asarray(mel, dtype=np.float32)
    if mel.ndim != 3 or mel.shape[1] != params.num_frequencies or mel.shape[2] < 1:
        raise ValueError(
            f"audio_from_mel: expected mel shaped (channels, {params.num_frequencies}, width), got {mel.shape}"
        )
    if not np.isfinite(mel).all() or (mel < 0).any():
        raise ValueError("audio_from_mel: mel amplitudes must be finite and >= 0")
    num_samples = mel.shape[2] * params.hop_length
    from engine.audio.inversion import CHUNK_BUDGET_BINS

    check_memory(
        3 * 4.0 * mel.shape[0] * num_samples + 96.0 * CHUNK_BUDGET_BINS,
        f"decoding {format_duration(num_samples / params.sample_rate)} of audio",
    )
    if not mel.any():  # a white image: silence, no need to run a vocoder
        return np.zeros((mel.shape[0], num_samples), dtype=np.float32)
    if vocoder is None:
        from engine.vocoders.factory import make_vocoder

        vocoder = make_vocoder(device=device, n_iter=params.num_griffin_lim_iters)
    with torch.inference_mode():
        wave = vocoder(torch.from_numpy(mel).to(device), params, num_samples=num_samples, generator=generator)
    audio = wave.detach().float().cpu().numpy()
    return peak_normalize(audio, OUTPUT_PEAK)


def audio_from_image(
    image: Image.Image,
    params: SpectrogramParams | None = None,
    *,
    vocoder: Vocoder | None = None,
    device: str | torch.device = "cpu",
    generator: torch.Generator | None = None,
    max_value: float | None = None,
) -> tuple[np.ndarray, int]:
    """Decode a spectrogram image to audio.

    Params come from the EXIF when not given (the ``riffusion`` preset for an image
    with no tags). Any width works (a width divisible by 8 is what diffusion models make).

    Returns:
        ``(audio, sample_rate_hz)``: float32 ``(channels, width * hop_length)`` peak-normalised
        to :data:`OUTPUT_PEAK` (silence stays zeros), and ``params.sample_rate``.

    Raises:
        See :func:`mel_from_image` and :func:`audio_from_mel`.
    """
    mel, params = mel_from_image(image, params, max_value=max_value)
    audio = audio_from_mel(mel, params, vocoder=vocoder, device=device, generator=generator)
    return audio, params.sample_rate
