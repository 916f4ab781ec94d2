"""vocode: a spectrogram image, or a clip's spectrogram, back to audio with a chosen vocoder.

    specdiff-cli vocode IN.png -o OUT.wav [--vocoder NAME]
    specdiff-cli vocode IN.wav -o OUT.wav [--vocoder NAME] [--preset NAME]

A PNG is read as a Riffusion-style spectrogram (its parameters and level from its EXIF, the
``riffusion`` preset without them) and vocoded. A clip is analysed with the preset, one
spectrogram per channel, and resynthesised from it: what the clip sounds like through that
spectrogram and vocoder (A/B against the original, or re-vocoding a clip that was made with
another vocoder), brought back at the clip's rate, length and loudness. No model, no prompt; the
recipe records the vocoder and regenerates the same audio (same device) from the same input.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from engine.recipes import MissingInputError, Recipe, audio_fingerprint, audio_record
from engine.specs import MAX_SEED, JobSpec, Progress, TaskResult, check_int
from engine.tasks import Needs, Task
from engine.vocoders import DEFAULT_VOCODER, check_vocoder_name

#: The most bytes of a spectrogram PNG a vocode job takes (a 600 s Riffusion image is ~20 MB).
MAX_IMAGE_BYTES = 64 << 20


@dataclass(frozen=True, eq=False, kw_only=True)
class VocodeJob(JobSpec):
    """Vocode one input: ``audio`` (float32 (channels, samples) at ``sample_rate_hz``, analysed with
    ``spectrogram_preset``) or ``image`` (a spectrogram PNG file's bytes). ``vocoder`` names the
    vocoder (``engine.vocoders``); ``griffin_lim_iters`` its Griffin-Lim iterations (also the first
    stage of a neural vocoder); ``seed`` the Griffin-Lim phases (None: 0)."""

    kind: ClassVar[str] = "vocode"
    audio: np.ndarray | None = field(default=None, repr=False)
    sample_rate_hz: int | None = None
    image: bytes | None = field(default=None, repr=False)
    vocoder: str = DEFAULT_VOCODER
    spectrogram_preset: str = "riffusion"
    griffin_lim_iters: int = 32
    seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_vocoder_name(self.vocoder)
        check_int("griffin_lim_iters", self.griffin_lim_iters, 0, 1000)
        if self.seed is not None:
            check_int("seed", self.seed, 0, MAX_SEED)
        if (self.audio is None) == (self.image is None):
            raise ValueError("a vocode job takes either `audio` (a clip) or `image` (a spectrogram PNG), not both or neither.")
        if self.image is not None:
            if not isinstance(self.image, bytes) or not self.image.startswith(b"\x89PNG\r\n\x1a\n"):
                raise ValueError("`image` must be the bytes of a PNG file (a spectrogram image).")
            if len(self.image) > MAX_IMAGE_BYTES:
                raise ValueError(f"the spectrogram image is {len(self.image) >> 20} MB; at most {MAX_IMAGE_BYTES >> 20} MB.")
            return
        from engine.audio.params import get_preset
        from engine.specs import AudioInputJob

        get_preset(self.spectrogram_preset)  # ValueError naming the presets
        check_int("sample_rate_hz", self.sample_rate_hz, 1000, 768000)
        # The same checks and read-only copy as every clip job.
        probe = AudioInputJob(audio=self.audio, sample_rate_hz=self.sample_rate_hz)
        object.__setattr__(self, "audio", probe.audio)

    def describe(self) -> str:
        return f"Vocode ({self.vocoder})"

    def spectrogram_params(self) -> Any:
        """The analysis preset's parameters (an audio input's)."""
        from engine.audio.params import get_preset

        return get_preset(self.spectrogram_preset)

    @property
    def duration_s(self) -> float | None:
        return None if self.audio is None else self.audio.shape[1] / self.sample_rate_hz  # type: ignore[operator]

    # -- inputs: a clip (by fingerprint) or a PNG file (by its bytes' sha256) ------------------

    @classmethod
    def input_names(cls) -> tuple[str, ...]:
        return ("audio", "image")

    @classmethod
    def _input_field_names(cls) -> frozenset[str]:
        return frozenset({"audio", "sample_rate_hz", "image"})

    def recipe_inputs(self) -> dict[str, dict[str, Any]]:
        if self.image is not None:
            return {"image": {"kind": "file", "sha256": hashlib.sha256(self.image).hexdigest(), "bytes": len(self.image)}}
        return {"audio": audio_record(self.audio, self.sample_rate_hz)}  # type: ignore[arg-type]

    def input_values(self) -> dict[str, Any]:
        if self.image is not None:
            return {"image": self.image}
        from engine.specs import AudioInput

        return {"audio": AudioInput(self.audio, self.sample_rate_hz)}

    @classmethod
    def _fields_from_inputs(cls, recipe: Recipe, inputs: Mapping[str, Any]) -> dict[str, Any]:
        name = "image" if "image" in recipe.inputs else "audio"
        record = recipe.inputs.get(name, {})
        given = inputs.get(name)
        if given is None:
            raise MissingInputError(recipe.task, name, record)
        if name == "image":
            data = bytes(given)
            if record.get("sha256") and hashlib.sha256(data).hexdigest() != record["sha256"]:
                raise ValueError("this image is not the input the recipe was made from (its sha256 differs).")
            return {"image": data}
        samples, rate = given
        if record.get("sha256") and record["sha256"] != audio_fingerprint(np.asarray(samples), int(rate)):
            raise ValueError("this audio is not the input the recipe was made from (its fingerprint differs); "
                             "regenerating needs the same input audio.")
        return {"audio": samples, "sample_rate_hz": int(rate)}


def _device(ctx: Any) -> Any:
    from engine.models.loading import resolve_device

    policy = ctx.settings.load_policy() if ctx is not None and getattr(ctx, "settings", None) is not None else None
    return resolve_device(policy.device if policy is not None else "cpu")


def run(spec: VocodeJob, ctx: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    """Vocode ``spec``'s input; one result: the audio (and, for a PNG, the image), and the recipe.

    Raises:
        ValueError: an unreadable image or clip, or one too short for a spectrogram column.
        ModelError: the vocoder's weights are missing or do not load. JobCancelledError: on cancel.
    """
    import io

    import torch

    from engine.audio.loudness import level_to_target
    from engine.audio.spectrogram import mel_from_audio, mel_from_image
    from engine.pipelines.landing import land_whole, working_copy
    from engine.vocoders.factory import make_vocoder

    device = _device(ctx)
    seed = spec.seed if spec.seed is not None else 0
    yield Progress(stage="load", message=f"Loading the vocoder {spec.vocoder}")
    vocoder = make_vocoder(spec.vocoder, device=str(device), n_iter=spec.griffin_lim_iters,
                           store=getattr(ctx, "store", None))
    generator = torch.Generator("cpu").manual_seed(int(seed))
    if spec.image is not None:
        from PIL import Image, UnidentifiedImageError

        try:
            image = Image.open(io.BytesIO(spec.image))
            image.load()
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(f"the spectrogram image cannot be read: {error}") from None
        mel, params = mel_from_image(image)
        yield Progress(stage="invert", step=0, total=1, message=f"Vocoding with {spec.vocoder}")
        wave = vocoder(torch.from_numpy(mel).to(device), params, generator=generator) if mel.any() else \
            torch.zeros(mel.shape[0], mel.shape[2] * params.hop_length)
        audio, level = level_to_target(wave.detach().float().cpu().numpy(), int(params.sample_rate))
        recipe = spec.make_recipe(seed=seed, device=str(device), facts={"spectrogram": params.to_dict(),
                                                                         "level": level.to_json()})
        return (TaskResult(recipe=recipe, audio=audio, sample_rate_hz=int(params.sample_rate), image=image),)

    from dataclasses import replace

    params = replace(spec.spectrogram_params(), stereo=False)  # one spectrogram per channel
    clip = working_copy(spec.audio, spec.sample_rate_hz, params.sample_rate)  # type: ignore[arg-type]
    samples = clip.shape[1]
    if samples < params.hop_length:
        raise ValueError(f"the clip is shorter than one spectrogram column ({params.hop_length} samples at "
                         f"{params.sample_rate} Hz); nothing to vocode.")
    yield Progress(stage="encode", step=0, total=1, message="Analysing the clip")
    mel = np.concatenate([mel_from_audio(channel[None], params, device=device) for channel in clip])
    yield Progress(stage="invert", step=0, total=1, message=f"Vocoding with {spec.vocoder}")
    if mel.any():
        wave = vocoder(torch.from_numpy(mel).to(device), params, num_samples=samples, generator=generator)
        out = wave.detach().float().cpu().numpy()
    else:  # silence stays silence
        out = np.zeros_like(clip)
    audio, level = land_whole(spec.audio, spec.sample_rate_hz, out, params.sample_rate)  # type: ignore[arg-type]
    recipe = spec.make_recipe(seed=seed, device=str(device), facts={"spectrogram": params.to_dict(),
                                                                     "level": level.to_json()})
    return (TaskResult(recipe=recipe, audio=audio, sample_rate_hz=int(spec.sample_rate_hz)),)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.cli.common import add_output_arguments, add_vocoder_argument

    parser.add_argument("input", help="a spectrogram PNG, or an audio file (analysed with --preset)")
    add_output_arguments(parser)
    add_vocoder_argument(parser)
    parser.add_argument("--preset", default="riffusion", help="spectrogram preset for an audio input (default: riffusion)")
    parser.add_argument("--gl-iters", type=int, default=32, help="Griffin-Lim iterations (default 32)")
    parser.add_argument("--seed", type=int, default=None, help="Griffin-Lim's phase seed (default 0)")
    parser.add_argument("--image", default=None, help="also save the spectrogram image of a PNG input")


def read_image_input(path: Path) -> bytes:
    """A spectrogram PNG's bytes (CliError unless it is a PNG of at most MAX_IMAGE_BYTES)."""
    from engine.cli.common import CliError

    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise CliError(f"'{path}' is {size >> 20} MB; a spectrogram image is at most {MAX_IMAGE_BYTES >> 20} MB.")
    data = path.read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise CliError(f"'{path}' is not a PNG file; give a spectrogram PNG or an audio file.")
    return data


def spec_from_args(args: argparse.Namespace, cli: Any) -> VocodeJob:
    from engine.cli.common import check_input

    cli.outputs()
    common = dict(vocoder=args.vocoder, spectrogram_preset=args.preset, griffin_lim_iters=args.gl_iters, seed=args.seed)
    path = Path(args.input)
    if path.suffix.lower() == ".png":
        source = check_input(path, "the spectrogram image")
        cli.input_paths["image"] = source.resolve()
        return cli.spec(VocodeJob, image=read_image_input(source), **common)
    audio, rate = cli.read_clip(path, args.preset)
    return cli.spec(VocodeJob, audio=audio, sample_rate_hz=rate, **common)


TASK = Task(
    name="vocode",
    spec=VocodeJob,
    run=run,
    title="Vocode",
    summary="spectrogram PNG or audio -> audio with a chosen vocoder",
    needs=Needs(model="vocoder", audio=True),
    add_arguments=add_arguments,
    spec_from_args=spec_from_args,
)
