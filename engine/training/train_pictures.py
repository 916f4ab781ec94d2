"""Training seed 002's picture model: the shipped starter, and a model of a user's own pairs.

The starter (no download; one torch thread; seeded, so the same run gives the same weights)::

    OMP_NUM_THREADS=1 python -m engine.training.train_pictures --out resources/models/pictures

1. sounds: General MIDI clips rendered with fluidsynth, each with a font drawn from ``--fonts``
   (default FluidR3 and csound's GM bank; ``opl3`` adds an FM font) and synth corpus sounds, each with its attributes
   (:mod:`engine.pictures.corpus`) and its procedural picture (:mod:`engine.pictures.drawing`);
2. the audio encoder learns the attributes from the log-mel spectrogram (gain-augmented; ``--random-level``
   and ``--augment`` are the cross-font options tried for issue 16 part 6: on a TimGM6mb validation
   split neither moved the encoder's family accuracy beyond noise, so the shipped recipe keeps neither;
   ``--timbre`` colours clips as another font, room or microphone would, and ``--encoder-init`` with
   ``--consistency`` fine-tunes an encoder so that it keeps its picture model's embedding space: see the
   README for what they measured on the OPL3 validation font; not in the recipe);
3. with the encoder frozen, the projector and the DDPM learn the pictures from the embeddings,
   the condition dropped for 20% of the examples (classifier-free guidance); EMA weights are kept.
   ``--head-condition`` has the projector also read the encoder's attribute heads (tried for issue
   16: on held-out fonts its pictures showed the encoder's guess no more often, so not in the recipe).

A user's pairs (``specdiff-cli train-pictures PAIRS_DIR -o OUT``, the ``train_pictures`` task):
a folder of audio files each with a picture of the same name (``dog.wav`` + ``dog.png``/``.jpg``);
the base model's encoder (the starter's by default) stays frozen, its projector and DDPM are
fine-tuned on the pairs (pictures centre-cropped to a square and resized to 64x64).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
#: The starter's run.
STARTER_SEED = 0
STARTER_GM_SOUNDS = 3600
STARTER_SYNTH_SOUNDS = 1200
STARTER_ENCODER_STEPS = 3000
STARTER_DIFFUSION_STEPS = 2000
BATCH = 16
#: The shipped starter renders each General MIDI clip with FluidR3 or csound's GM bank: on a
#: TimGM6mb validation split its encoder's family head read 63-66% (three seeds, 600 steps)
#: against 55-59% on FluidR3 alone (two seeds; bench/bench_pictures_encoder.py), 69% at 1500 steps.
STARTER_FONTS = ("fluid", "csound")
#: Second word of the font generator's seed (``default_rng([seed, FONT_STREAM])``).
FONT_STREAM = 0xF0
STARTER_CARD = {
    "title": "Starter picture model (procedural pictures only)",
    "description": (
        "A 64x64 pixel-space diffusion model conditioned on a small audio encoder (seed 002's method), trained "
        "offline on General MIDI and synthesized sounds paired with pictures drawn from each sound's attributes. "
        "It draws what it hears as a diagram: colour = family (keys red, plucked orange, bowed/organ green, winds "
        "blue, synth purple, drums yellow, noise/effects grey), a disc for a pitched sound (higher = higher and "
        "smaller) or a band for an unpitched one, ticks along the bottom for onsets, brightness for loudness. It "
        "knows no photographs: for scenes, use an image model from the store (the zero-shot path)."
    ),
}


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def mels_of(clips: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, WINDOW_SAMPLES) prepared clips -> (N, 1, 64, frames) float32 log-mels."""
    import torch

    from engine.pictures.model import log_mel

    out = []
    with torch.no_grad():
        for i in range(0, len(clips), batch):
            out.append(log_mel(torch.as_tensor(clips[i : i + batch])).numpy())
    return np.concatenate(out) if out else np.zeros((0, 1, 64, 1), np.float32)


def starter_corpus(seed: int, n_gm: int, n_synth: int, *, font: Path | None = None, fonts: Sequence[str] | None = None,
                   chunk: int = 600) -> tuple[np.ndarray, list]:
    """The starter's sounds as log-mels and their attributes (rendered in chunks to bound memory).
    ``fonts`` (names of :data:`engine.training.gm_corpus.TRAINING_FONTS`): each General MIDI clip
    rendered with one of them drawn by its own generator, so the clips themselves are the same
    whatever the fonts; ``None`` renders every clip with ``font`` (FluidR3 by default)."""
    from engine.pictures.corpus import gm_sounds, synth_sounds
    from engine.training import gm_corpus

    rng = np.random.default_rng(seed)
    font_paths = gm_corpus.training_fonts(fonts) if fonts else None
    font_rng = np.random.default_rng([seed, FONT_STREAM])
    mels, attributes = [], []
    remaining = n_gm
    while remaining > 0:
        sounds = gm_sounds(rng, min(chunk, remaining), font=font, fonts=font_paths, font_rng=font_rng)
        remaining -= min(chunk, remaining)
        mels.append(mels_of(np.stack([s.audio for s in sounds])))
        attributes += [s.attributes for s in sounds]
    for start in range(0, n_synth, chunk):
        sounds = synth_sounds(rng, min(chunk, n_synth - start))
        mels.append(mels_of(np.stack([s.audio for s in sounds])))
        attributes += [s.attributes for s in sounds]
    return np.concatenate(mels), attributes


def encoder_targets(attributes: Sequence[Any]) -> dict[str, np.ndarray]:
    from engine.pictures.drawing import LOUDNESS_HIGH_DB, LOUDNESS_LOW_DB, MAX_TICKS, pitch_position

    return {
        "group": np.array([a.group_index for a in attributes], np.int64),
        "pitched": np.array([a.pitch_hz is not None for a in attributes], np.float32),
        "pitch": np.array([pitch_position(a.pitch_hz) if a.pitch_hz else 0.0 for a in attributes], np.float32),
        "onsets": np.array([min(a.onsets, MAX_TICKS) / MAX_TICKS for a in attributes], np.float32),
        "loudness": np.array([(a.loudness_db - LOUDNESS_LOW_DB) / (LOUDNESS_HIGH_DB - LOUDNESS_LOW_DB)
                              for a in attributes], np.float32),
    }


def pictures_tensor(pictures: Sequence[np.ndarray]) -> Any:
    """uint8 (64, 64, 3) pictures -> float32 (N, 3, 64, 64) in [-1, 1]."""
    import torch

    array = np.stack(pictures).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


# ---------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------


def gained(mels: Any, gain_db: Any) -> Any:
    """(B, 1, 64, frames) log-mels (:func:`engine.pictures.model.log_mel`) of the clips played
    ``gain_db`` louder: the -100 dB floor (digital silence) stays where :func:`log_mel` puts it,
    so the floor does not tell the encoder how loud the clip was."""
    return _raised_above_floor(mels, (gain_db / 30.0)[:, None, None, None])


def _raised_above_floor(mels: Any, change: Any) -> Any:
    """``mels + change`` (broadcast), clamped at the -100 dB floor, where digital silence (already
    at the floor) stays as it is: a gain or EQ does not make silence audible."""
    import torch

    from engine.pictures.model import MEL_FLOOR

    return torch.where(mels <= MEL_FLOOR + 1e-4, mels, (mels + change).clamp(min=MEL_FLOOR))


def augment_mels(mels: Any, generator: Any) -> Any:
    """What another sound font (or room, or microphone) changes, drawn per clip on (B, 1, 64, frames)
    log-mels: a spectral tilt of up to +/-12 dB across the band, a smooth random EQ of up to
    +/-3 dB per bump and a shift of up to 2 mel bins (a slightly different sample pitch or
    formant). The encoder trained on one font otherwise learns that font's samples, not the families."""
    import torch

    batch, _, bands, _ = mels.shape
    tilt = (torch.rand(batch, generator=generator) * 2 - 1) * 0.4
    k = torch.arange(1, 5, dtype=torch.float32)
    amplitude = (torch.rand(batch, 4, generator=generator) * 2 - 1) * 0.1
    phase = torch.rand(batch, 4, generator=generator) * 2 * np.pi
    axis = torch.linspace(0, np.pi, bands)
    curve = (amplitude[:, :, None] * torch.cos(k[None, :, None] * axis[None, None, :] + phase[:, :, None])).sum(1)
    curve = curve + tilt[:, None] * torch.linspace(-1, 1, bands)[None, :]
    # Digital silence stays at the floor, as it would in a render through another font.
    mels = _raised_above_floor(mels, curve[:, None, :, None])
    shifted = torch.empty_like(mels)
    for i, shift in enumerate(torch.randint(-2, 3, (batch,), generator=generator).tolist()):
        shifted[i] = torch.roll(mels[i], shift, dims=1)
        if shift > 0:
            shifted[i, :, :shift] = mels[i, :, :1]
        elif shift < 0:
            shifted[i, :, shift:] = mels[i, :, -1:]
    return shifted


def mask_mels(mels: Any, generator: Any, *, bands: int = 8, frames: int = 20, masks: int = 2) -> Any:
    """SpecAugment's masks on (B, 1, 64, frames) log-mels: per clip ``masks`` runs of up to ``bands``
    mel bands and ``masks`` runs of up to ``frames`` frames set to the clip's mean. The encoder
    trained to near-zero loss learns one font's exact spectra; hiding parts of them makes it
    read the family from several cues at once."""
    import torch

    batch, _, n_bands, n_frames = mels.shape
    band_axis = torch.arange(n_bands)[None, :]
    frame_axis = torch.arange(n_frames)[None, :]
    hide = torch.zeros(batch, n_bands, n_frames, dtype=torch.bool)
    for _ in range(masks):
        width = torch.randint(0, bands + 1, (batch, 1), generator=generator)
        start = (torch.rand(batch, 1, generator=generator) * (n_bands - width + 1)).long()
        hide |= ((band_axis >= start) & (band_axis < start + width))[:, :, None]
        width = torch.randint(0, frames + 1, (batch, 1), generator=generator)
        start = (torch.rand(batch, 1, generator=generator) * (n_frames - width + 1)).long()
        hide |= ((frame_axis >= start) & (frame_axis < start + width))[:, None, :]
    mean = mels.mean(dim=(2, 3), keepdim=True)
    return torch.where(hide[:, None], mean, mels)


#: The encoder stage's peak learning rate (OneCycle).
ENCODER_LR = 2e-3


def timbre_mels(mels: Any, generator: Any) -> Any:
    """What another sound font, room or microphone does to a sound, drawn per clip on (B, 1, 64,
    frames) log-mels (:func:`engine.pictures.model.log_mel`; 1 unit = 30 dB) more broadly than
    :func:`augment_mels`: a tilt of up to +/-12 dB across the band and a random EQ of up to
    +/-6 dB (broad bumps) and +/-3 dB (narrow ones: another sample's formants); half the clips
    band-limited above a random 2-8 kHz (a font's low-rate samples), a fifth cut below up to
    250 Hz; a shift of up to 3 mel bins; half the clips' envelopes played 0.8-1.25 times as fast
    (another font's attack and release); 40% with a room's reverb (0.1-1.2 s, -20..-4 dB wet)
    and 30% over a steady noise floor 40-70 dB below the clip's peak. Digital silence stays at
    the floor unless reverb or noise fills it."""
    import torch
    from torch.nn import functional as F

    from engine.pictures.model import HOP, MEL_FLOOR, SAMPLE_RATE_HZ

    batch, _, bands, frames = mels.shape

    def uniform(low: float, high: float, *shape: int) -> Any:
        return torch.rand(*shape, generator=generator) * (high - low) + low

    def chance(p: float) -> Any:
        return torch.rand(batch, generator=generator) < p

    # Equalisation (additive in dB), band limits.
    axis = torch.linspace(0, np.pi, bands)
    k = torch.arange(1, 13, dtype=torch.float32)
    amplitude = uniform(-1, 1, batch, 12) * torch.where(k <= 4, 0.2, 0.4 / k)[None, :]
    phase = uniform(0, 2 * np.pi, batch, 12)
    curve = (amplitude[:, :, None] * torch.cos(k[None, :, None] * axis[None, None, :] + phase[:, :, None])).sum(1)
    curve = curve + uniform(-0.4, 0.4, batch)[:, None] * torch.linspace(-1, 1, bands)[None, :]
    bins = torch.arange(bands, dtype=torch.float32)[None, :]
    cutoff = uniform(40, 62, batch)[:, None]  # mel bin ~2.3-7.6 kHz
    low_pass = (bins - cutoff).clamp(min=0) * uniform(0.05, 0.25, batch)[:, None]
    curve = curve - torch.where(chance(0.5)[:, None], low_pass, torch.zeros_like(low_pass))
    cut_low = uniform(0, 8, batch)[:, None]
    high_pass = (cut_low - bins).clamp(min=0) * uniform(0.05, 0.2, batch)[:, None]
    curve = curve - torch.where(chance(0.2)[:, None], high_pass, torch.zeros_like(high_pass))
    out = _raised_above_floor(mels, curve[:, None, :, None])
    # Pitch or formant: a shift along the mel axis (the edge bands repeated).
    shifts = torch.randint(-3, 4, (batch,), generator=generator).tolist()
    index = (torch.arange(bands)[None, :] - torch.tensor(shifts)[:, None]).clamp(0, bands - 1)
    out = torch.gather(out, 2, index[:, None, :, None].expand(-1, 1, -1, frames))
    # Envelope speed: the clip resampled in time, cut or padded with silence to its length.
    stretched = []
    for i, factor in enumerate(torch.where(chance(0.5), uniform(0.8, 1.25, batch), torch.ones(batch)).tolist()):
        if factor == 1.0:
            stretched.append(out[i])
            continue
        length = max(2, int(round(frames * factor)))
        x = F.interpolate(out[i : i + 1], size=(bands, length), mode="bilinear", align_corners=False)[0]
        x = x[..., :frames] if length >= frames else F.pad(x, (0, frames - length), value=MEL_FLOOR)
        stretched.append(x)
    out = torch.stack(stretched)
    # Reverb and noise, added in power.
    power = 10 ** ((out * 30.0 - 50.0) / 10.0)
    reverb = chance(0.4)
    if bool(reverb.any()):
        frame_s = HOP / SAMPLE_RATE_HZ
        lags = torch.arange(1, 65, dtype=torch.float32)[None, :]
        decay = torch.exp(-6.91 * lags * frame_s / uniform(0.1, 1.2, batch)[:, None])  # -60 dB at RT60
        wet = 10 ** (uniform(-20, -4, batch) / 10)[:, None] * torch.where(reverb, 1.0, 0.0)[:, None]
        kernel = wet * decay / decay.sum(dim=1, keepdim=True) * 8
        padded = F.pad(power, (64, 0))
        tail = torch.zeros_like(power)
        for lag in range(1, 65):
            tail = tail + kernel[:, lag - 1, None, None, None] * padded[..., 64 - lag : 64 - lag + frames]
        power = power + tail
    noise_db = (out.amax(dim=(1, 2, 3)) * 30.0 - 50.0 - uniform(40, 70, batch))[:, None]
    noise_db = noise_db + uniform(-10, 10, batch)[:, None] * torch.linspace(-1, 1, bands)[None, :]
    noise = torch.where(chance(0.3)[:, None], 10 ** (noise_db / 10), torch.zeros_like(noise_db))
    power = power + noise[:, None, :, None]
    return ((10 * torch.log10(power.clamp(min=1e-10))).clamp(min=-100.0) + 50.0) / 30.0


def train_encoder(model: Any, mels: np.ndarray, attributes: Sequence[Any], *, steps: int, seed: int,
                  batch: int = 32, lr: float = ENCODER_LR, augment: bool = False, random_level: bool = False,
                  mask: bool = False, timbre: bool = False, teacher: Any = None, consistency: float = 1.0,
                  log_every: int = 100) -> list[float]:
    """Train ``model.encoder`` on the attributes (gain augmentation: -12..+6 dB; with
    ``random_level`` each clip at a random level of -60..-8 dBFS instead, the loudness target
    following; with ``augment`` also :func:`augment_mels`; with ``mask`` also :func:`mask_mels`;
    with ``timbre`` also :func:`timbre_mels`); returns the losses. With ``teacher`` (an
    :class:`~engine.pictures.model.AudioEncoder`) the embedding of each altered clip is also pulled
    towards the teacher's embedding of the clip as it is (mean squared error over the teacher's
    embedding variance, weighted ``consistency``): an encoder fine-tuned from the teacher this way
    keeps the embedding space the teacher's picture model was trained on."""
    import torch
    from torch.nn import functional as F

    from engine.pictures.drawing import LOUDNESS_HIGH_DB, LOUDNESS_LOW_DB

    targets = {k: torch.from_numpy(v) for k, v in encoder_targets(attributes).items()}
    levels = torch.tensor([a.loudness_db for a in attributes], dtype=torch.float32)
    data = torch.from_numpy(mels)
    rng = torch.Generator().manual_seed(seed)
    encoder = model.encoder.train()
    if teacher is not None:
        teacher = teacher.eval().requires_grad_(False)
        with torch.no_grad():
            spread = embeddings_of_encoder(teacher, mels[:: max(1, len(mels) // 512)]).var(dim=0).mean()
    opt = torch.optim.AdamW(encoder.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    losses = []
    for step in range(steps):
        idx = torch.randint(0, len(data), (batch,), generator=rng)
        if random_level:
            # Each clip heard at a level drawn anew (-60..-8 dBFS RMS), whatever its own: in the corpus
            # the synth sounds sit ~18 dB above the General MIDI renders (median -23 against -41 dBFS),
            # so level alone hints "synth", which no other font or recording keeps.
            target_db = torch.rand(batch, generator=rng) * (LOUDNESS_HIGH_DB - LOUDNESS_LOW_DB + 7.0) + LOUDNESS_LOW_DB - 5.0
            gain_db = target_db - levels[idx]
            x = gained(data[idx], gain_db)
        else:
            gain_db = torch.rand(batch, generator=rng) * 18.0 - 12.0
            x = data[idx] + (gain_db / 30.0)[:, None, None, None]
        clean = x
        if augment:
            x = augment_mels(x, rng)
        if timbre:
            x = timbre_mels(x, rng)
        if mask:
            x = mask_mels(x, rng)
        embedding = encoder.embed(x)
        out = encoder.predict(embedding)
        pitched = targets["pitched"][idx]
        loudness = targets["loudness"][idx] + gain_db / (LOUDNESS_HIGH_DB - LOUDNESS_LOW_DB)
        loss = (F.cross_entropy(out["group"], targets["group"][idx])
                + F.binary_cross_entropy_with_logits(out["pitched"], pitched)
                + 4 * (pitched * (out["pitch"] - targets["pitch"][idx]) ** 2).sum() / pitched.sum().clamp(min=1)
                + F.mse_loss(out["onsets"], targets["onsets"][idx]) + F.mse_loss(out["loudness"], loudness))
        if teacher is not None:
            with torch.no_grad():
                target = teacher.embed(clean)
            loss = loss + consistency * F.mse_loss(embedding, target) / spread
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            log.info("encoder step %d/%d loss %.4f", step + 1, steps, float(np.mean(losses[-log_every:])))
    encoder.eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    return losses


def embeddings_of(model: Any, mels: np.ndarray, batch: int = 256) -> Any:
    return embeddings_of_encoder(model.encoder, mels, batch)


def embeddings_of_encoder(encoder: Any, mels: np.ndarray, batch: int = 256) -> Any:
    import torch

    with torch.no_grad():
        return torch.cat([encoder.embed(torch.from_numpy(np.ascontiguousarray(mels[i : i + batch])))
                          for i in range(0, len(mels), batch)])


def train_diffusion(
    model: Any,
    embeddings: Any,
    pictures: Any,
    *,
    steps: int,
    seed: int,
    batch: int = BATCH,
    lr: float = 1e-3,
    ema_decay: float = 0.995,
    start_step: int = 0,
    state: dict[str, Any] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> Iterator[tuple[int, float]]:
    """Train the projector and the UNet (encoder frozen) for ``steps`` steps; yields ``(step, loss)``
    after each. At the end the EMA weights are copied into the model. ``state`` (optimizer, EMA,
    generator) may be passed to resume; it is updated in place."""
    import torch

    params = [p for m in (model.projector, model.unet) for p in m.parameters()]
    state = state if state is not None else {}
    if "opt" not in state:
        state["opt"] = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        state["ema"] = [p.detach().clone() for p in params]
        state["generator"] = torch.Generator().manual_seed(seed)
    opt, ema, generator = state["opt"], state["ema"], state["generator"]
    scheduler = model.scheduler()
    model.projector.train()
    model.unet.train()
    for step in range(start_step, steps):
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50)
        idx = torch.randint(0, len(pictures), (batch,), generator=generator)
        loss = model.diffusion_loss(pictures[idx], embeddings[idx], generator, scheduler)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.lerp_(p.detach(), 1 - decay)
        yield step + 1, loss.item()
    use_ema(model, state)
    model.eval()


def use_ema(model: Any, state: dict[str, Any]) -> list[Any]:
    """Copy the EMA weights of ``state`` into the model's projector and UNet; returns the weights
    they replaced (for :func:`restore`)."""
    import torch

    params = [p for m in (model.projector, model.unet) for p in m.parameters()]
    with torch.no_grad():
        old = [p.detach().clone() for p in params]
        for e, p in zip(state["ema"], params):
            p.copy_(e)
    return old


def restore(model: Any, weights: list[Any]) -> None:
    import torch

    with torch.no_grad():
        for w, p in zip(weights, [p for m in (model.projector, model.unet) for p in m.parameters()]):
            p.copy_(w)


# ---------------------------------------------------------------------------------------------
# The starter
# ---------------------------------------------------------------------------------------------


def cached_corpus(seed: int, n_gm: int, n_synth: int, *, fonts: Sequence[str] | None = None,
                  cache_dir: str | Path | None = None) -> tuple[np.ndarray, list]:
    """:func:`starter_corpus`, kept in ``cache_dir`` (when given) so a rerun skips rendering."""
    import pickle

    fonts = list(fonts or STARTER_FONTS)
    tag = "" if fonts == ["fluid"] else "-" + "+".join(fonts)
    cache = Path(cache_dir) / f"corpus-{seed}-{n_gm}-{n_synth}{tag}.npz" if cache_dir else None
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            mels = data["mels"]
        return mels, pickle.loads(cache.with_suffix(".pkl").read_bytes())
    mels, attributes = starter_corpus(seed, n_gm, n_synth, fonts=fonts)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, mels=mels)
        cache.with_suffix(".pkl").write_bytes(pickle.dumps(attributes))
    return mels, attributes


def starter_encoder_stage(mels: np.ndarray, attributes: Sequence[Any], *, seed: int = STARTER_SEED,
                          encoder_steps: int = STARTER_ENCODER_STEPS, config: Any = None,
                          encoder_from: str | Path | None = None, augment: bool = False,
                          random_level: bool = False, mask: bool = False, timbre: bool = False,
                          encoder_init: str | Path | None = None, consistency: float = 0.0,
                          encoder_lr: float = ENCODER_LR) -> tuple[Any, list[float]]:
    """A new starter picture model (torch seeded with ``seed`` first, as :func:`train_starter`
    does) with its audio encoder trained on the corpus, or taken from ``encoder_from`` (an
    earlier run with the same seed and corpus trains the same encoder), or fine-tuned from
    ``encoder_init``'s (with ``consistency`` > 0 that encoder is also the teacher of
    :func:`train_encoder`); returns it and the encoder's losses."""
    import torch

    from engine.pictures.model import PictureModel, PictureModelConfig

    torch.manual_seed(seed)
    model = PictureModel(config or PictureModelConfig(prediction_type="sample"))
    if encoder_from is not None:
        from engine.pictures.model import load_picture_model

        model.encoder.load_state_dict(load_picture_model(encoder_from).encoder.state_dict())
        model.encoder.eval().requires_grad_(False)
        return model, [float("nan")]
    teacher = None
    if encoder_init is not None:
        from engine.pictures.model import load_picture_model

        source = load_picture_model(encoder_init).encoder  # read once: the start and, unchanged, the teacher
        model.encoder.load_state_dict(source.state_dict())
        teacher = source if consistency > 0 else None
    return model, train_encoder(model, mels, attributes, steps=encoder_steps, seed=seed + 1, lr=encoder_lr,
                                augment=augment, random_level=random_level, mask=mask, timbre=timbre,
                                teacher=teacher, consistency=consistency)


def train_starter(out: Path, *, seed: int = STARTER_SEED, n_gm: int = STARTER_GM_SOUNDS, n_synth: int = STARTER_SYNTH_SOUNDS,
                  encoder_steps: int = STARTER_ENCODER_STEPS, diffusion_steps: int = STARTER_DIFFUSION_STEPS,
                  config: Any = None, cache_dir: str | Path | None = None, snapshot_every: int = 0,
                  encoder_from: str | Path | None = None, augment: bool = False, random_level: bool = False,
                  mask: bool = False, timbre: bool = False, encoder_init: str | Path | None = None,
                  consistency: float = 0.0, encoder_lr: float = ENCODER_LR,
                  fonts: Sequence[str] | None = None, diffusion_from: str | Path | None = None,
                  head_condition: bool = False,
                  command: str | None = None) -> dict[str, Any]:
    """Train the starter picture model into ``out``; returns its training facts. ``fonts``: the
    training fonts' names (:func:`starter_corpus`; default :data:`STARTER_FONTS`)."""
    import torch

    from engine.pictures.drawing import draw
    from engine.pictures.model import PictureModelCard, PictureModelConfig, num_parameters, save_picture_model

    if config is None:
        config = PictureModelConfig(prediction_type="sample", head_condition=head_condition)
    torch.manual_seed(seed)
    started = time.monotonic()
    mels, attributes = cached_corpus(seed, n_gm, n_synth, fonts=fonts, cache_dir=cache_dir)
    log.info("corpus: %d sounds in %.0f s", len(mels), time.monotonic() - started)
    model, enc_losses = starter_encoder_stage(mels, attributes, seed=seed, encoder_steps=encoder_steps, config=config,
                                              encoder_from=encoder_from, augment=augment, random_level=random_level,
                                              mask=mask, timbre=timbre, encoder_init=encoder_init,
                                              consistency=consistency, encoder_lr=encoder_lr)
    if diffusion_from is not None:  # start the projector and the UNet from another model's (same config)
        from engine.pictures.model import load_picture_model

        base = load_picture_model(diffusion_from)
        model.projector.load_state_dict(base.projector.state_dict())
        model.unet.load_state_dict(base.unet.state_dict())
    embeddings = embeddings_of(model, mels)
    pictures = pictures_tensor([draw(a) for a in attributes])
    del mels
    losses: list[float] = []
    state: dict[str, Any] = {}
    for step, loss in train_diffusion(model, embeddings, pictures, steps=diffusion_steps, seed=seed + 2, state=state):
        losses.append(loss)
        if step % 50 == 0:
            log.info("diffusion step %d/%d loss %.4f (%.0f s)", step, diffusion_steps, float(np.mean(losses[-50:])),
                     time.monotonic() - started)
        if snapshot_every and step % snapshot_every == 0 and step < diffusion_steps:
            weights = use_ema(model, state)
            save_picture_model(model, Path(out) / "snapshots" / f"step-{step:06d}",
                               PictureModelCard(title=f"snapshot at step {step}"))
            restore(model, weights)
    facts = {
        "seed": seed, "sounds": len(attributes), "gm_sounds": n_gm, "synth_sounds": n_synth,
        "encoder_steps": encoder_steps, "encoder_augment": augment, "encoder_random_level": random_level,
        "encoder_mask": mask, "encoder_timbre": timbre,
        "fonts": list(fonts or STARTER_FONTS), "diffusion_steps": diffusion_steps, "batch": BATCH,
        "head_condition": config.head_condition,
        "encoder_loss_first_last": [float(np.mean(enc_losses[:50])), float(np.mean(enc_losses[-50:]))],
        "diffusion_loss_first_last": [float(np.mean(losses[:50])), float(np.mean(losses[-50:]))] if losses else None,
        "parameters": num_parameters(model), "train_seconds": round(time.monotonic() - started),
        "torch_threads": torch.get_num_threads(), "weights": "float16 on disk, float32 when loaded",
    }  # fmt: skip
    if encoder_from is not None:  # no encoder losses here (they were NaN, which JSON cannot hold)
        del facts["encoder_loss_first_last"]
        facts["encoder_from"] = str(encoder_from)
    if diffusion_from is not None:
        facts["diffusion_from"] = str(diffusion_from)
    if encoder_init is not None:
        facts.update(encoder_init=str(encoder_init), encoder_consistency=consistency, encoder_lr=encoder_lr)
    if command:
        facts["command"] = command
    card = PictureModelCard(
        title=STARTER_CARD["title"], description=STARTER_CARD["description"],
        trained_on=(f"{len(attributes)} sounds: {n_gm} General MIDI clips drawn from engine.training.gm_corpus and "
                    f"rendered with {fonts_phrase(fonts or STARTER_FONTS)} (fluidsynth; silent renders dropped), "
                    f"{n_synth} engine.training.synth sounds; pictures from engine.pictures.drawing. No download."),
        extra=facts,
    )
    save_picture_model(model, out, card)
    write_readme(out, card)
    return facts


FONT_TITLES = {"fluid": "FluidR3_GM", "csound": "csound's sf_GMbank", "opl3": "OPL-3_FM_128M"}


def fonts_phrase(fonts: Sequence[str]) -> str:
    """'FluidR3_GM' or 'a font drawn per clip from FluidR3_GM, csound's sf_GMbank'."""
    titles = [FONT_TITLES.get(f, f) for f in fonts]
    return titles[0] if len(titles) == 1 else "a font drawn per clip from " + ", ".join(titles)


def write_readme(folder: Path, card: Any) -> None:
    lines = [f"# {card.title}", "", card.description, "", f"Trained on: {card.trained_on}", "",
             "Made by `python -m engine.training.train_pictures` (seed 002's method: audio encoder -> learned "
             "projection to cross-attention tokens -> 64x64 pixel-space DDPM, classifier-free guidance 3, "
             "condition dropped for 20% of training examples).", "", "Training facts:", ""]
    lines += [f"- {k}: {v}" for k, v in card.extra.items()]
    (Path(folder) / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# A user's pairs
# ---------------------------------------------------------------------------------------------


def load_picture(path: Path) -> np.ndarray:
    """A picture file centre-cropped to a square and resized to 64x64: uint8 (64, 64, 3)."""
    from PIL import Image

    from engine.pictures.drawing import SIZE

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
            return np.asarray(image, dtype=np.uint8)
    except OSError as error:
        raise ValueError(f"the picture '{path}' cannot be read: {error}") from None


def load_pairs(pairs: Sequence[tuple[Path, Path]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The pairs' prepared clips (N, WINDOW_SAMPLES) and pictures."""
    from engine.audio.io import read_audio
    from engine.pictures.model import prepare_clip

    clips, pictures = [], []
    for audio_path, picture_path in pairs:
        audio, rate = read_audio(audio_path)
        try:
            clips.append(prepare_clip(audio, rate))
        except ValueError as error:
            raise ValueError(f"'{audio_path.name}': {error}") from None
        pictures.append(load_picture(picture_path))
    return np.stack(clips), pictures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the starter picture model (offline, seeded).")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=STARTER_SEED)
    parser.add_argument("--gm", type=int, default=STARTER_GM_SOUNDS)
    parser.add_argument("--synth", type=int, default=STARTER_SYNTH_SOUNDS)
    parser.add_argument("--encoder-steps", type=int, default=STARTER_ENCODER_STEPS)
    parser.add_argument("--steps", type=int, default=STARTER_DIFFUSION_STEPS)
    parser.add_argument("--cache-dir", default=None, help="keep the rendered corpus here (a rerun skips rendering)")
    parser.add_argument("--snapshot-every", type=int, default=0, help="save the EMA weights every N steps")
    parser.add_argument("--encoder-from", default=None,
                        help="take the audio encoder from this picture model instead of training it (a run with the "
                             "same seed and corpus trains the same encoder)")
    parser.add_argument("--augment", action="store_true",
                        help="also train the encoder on clips with a random tilt, EQ and mel shift (augment_mels)")
    parser.add_argument("--diffusion-from", default=None,
                        help="start the projector and the diffusion model from this picture model's (same configuration) "
                             "instead of from scratch")
    parser.add_argument("--fonts", default=None,
                        help="render each General MIDI clip with a font drawn from these (comma-separated: "
                             "fluid, csound, opl3; default: fluid,csound, the starter's recipe)")
    parser.add_argument("--mask", action="store_true",
                        help="also train the encoder on clips with SpecAugment's band and frame masks (mask_mels)")
    parser.add_argument("--timbre", action="store_true",
                        help="also train the encoder on clips with another font's, room's or microphone's colouring: EQ, "
                             "band limits, mel shift, envelope speed, reverb, noise (timbre_mels)")
    parser.add_argument("--encoder-init", default=None,
                        help="fine-tune this picture model's audio encoder instead of training one from scratch")
    parser.add_argument("--consistency", type=float, default=0.0,
                        help="with --encoder-init: also pull each altered clip's embedding towards that encoder's embedding "
                             "of the clip as it is, with this weight (keeps its picture model's embedding space)")
    parser.add_argument("--encoder-lr", type=float, default=ENCODER_LR, help="the encoder stage's peak learning rate")
    parser.add_argument("--random-level", action="store_true",
                        help="train the encoder on each clip at a random level (-60..-8 dBFS) instead of its own +-12 dB")
    parser.add_argument("--head-condition", action="store_true",
                        help="the projector also reads the encoder's attribute heads (group probabilities, pitch, ...)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    command = "OMP_NUM_THREADS=1 python -m engine.training.train_pictures " + " ".join(argv if argv is not None else sys.argv[1:])
    facts = train_starter(Path(args.out), seed=args.seed, n_gm=args.gm, n_synth=args.synth,
                          encoder_steps=args.encoder_steps, diffusion_steps=args.steps, cache_dir=args.cache_dir,
                          snapshot_every=args.snapshot_every, encoder_from=args.encoder_from,
                          augment=args.augment, random_level=args.random_level, mask=args.mask,
                          timbre=args.timbre, encoder_init=args.encoder_init, consistency=args.consistency,
                          encoder_lr=args.encoder_lr,
                          fonts=[f.strip() for f in args.fonts.split(",")] if args.fonts else None,
                          diffusion_from=args.diffusion_from, head_condition=args.head_condition,
                          command=command)
    print(facts)
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
