"""Seed 002's picture model: audio embedding -> learned tokens -> cross-attention in a 64x64 DDPM.

* :class:`AudioEncoder`: a small CNN over a log-mel spectrogram of a 2.56 s window at 16 kHz
  (:func:`prepare_clip` picks the loudest window of a clip) giving a 128-d embedding. The starter
  trains it on the sounds' attributes (family group, pitch, onsets, loudness), as seed 002
  aligned AudioCLIP's audio head with labels; it is frozen while the DDPM trains.
* :class:`Projector`: the learned projection (leaky-ReLU fully connected layer, dropout, layer
  norm) of the embedding to ``tokens`` cross-attention tokens; their mean is also added to the
  timestep embedding (GLIDE-style, as in seed 002). With ``head_condition`` it also reads the
  encoder's attribute heads (:meth:`PictureModel.condition`): what the encoder names, beside where
  the embedding lies.
* the DDPM: a diffusers ``UNet2DConditionModel`` over 64x64x3 pixels (T = 1000, linear betas
  1e-4..0.02) predicting the noise (seed 002) or, as the starter does, the clean picture (on a
  CPU budget of ~1000 training steps, noise prediction still left visible noise in the samples). The pixels enter through a space-to-depth stem (2x2
  pixels -> 12 channels) so the UNet runs at 32x32: the diffusion is still over the 64x64 RGB
  pixels, at a quarter of the compute.
* classifier-free guidance: training drops the condition (a zero embedding) for 20% of steps;
  sampling mixes ``uncond + s * (cond - uncond)`` with s = 3 by default.

A picture-model folder holds ``picture_model.json`` (config and card), ``model.safetensors``
and ``README.md``. Sampling is deterministic on the CPU for a given seed: picture ``i`` of a job
uses seed ``seed + i`` and is made alone (no batch effects), so a recipe regenerates bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.pictures.drawing import GROUPS, SIZE

SAMPLE_RATE_HZ = 16000
WINDOW_S = 2.56
WINDOW_SAMPLES = int(round(WINDOW_S * SAMPLE_RATE_HZ))
N_FFT, HOP, N_MELS = 1024, 256, 64
MIN_DURATION_S = 0.25
SILENCE_DBFS = -60.0
EMBED_DIM = 128
CONFIG_FILE = "picture_model.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "specdiff-picture-model"


class PictureInputError(ValueError):
    """The clip cannot be drawn: silent, too short."""


# ---------------------------------------------------------------------------------------------
# Audio in
# ---------------------------------------------------------------------------------------------


def prepare_clip(audio: np.ndarray, sample_rate_hz: int, *, window_s: float = WINDOW_S,
                 rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """The window a model hears: mono float32 at ``rate_hz``, ``window_s`` long (the loudest such
    window of a longer clip, zero-padded for a shorter one). Defaults: the encoder's 2.56 s at 16 kHz.

    ``audio`` is (channels, samples) or (samples,). Raises PictureInputError for a clip shorter
    than 0.25 s or one whose peak is below -60 dBFS.
    """
    from engine.audio.io import resample

    samples = np.asarray(audio, dtype=np.float32)
    mono = samples.mean(axis=0) if samples.ndim == 2 else samples
    duration = mono.shape[-1] / sample_rate_hz
    if duration < MIN_DURATION_S:
        raise PictureInputError(f"the clip is {duration:.2f} s long; a picture needs at least {MIN_DURATION_S} s of sound.")
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if peak < 10 ** (SILENCE_DBFS / 20):
        raise PictureInputError(f"the clip is silent (peak below {SILENCE_DBFS:.0f} dBFS); a picture needs some sound.")
    if sample_rate_hz != rate_hz:
        mono = resample(mono[None, :], sample_rate_hz, rate_hz)[0].astype(np.float32)
    window = int(round(window_s * rate_hz))
    if mono.shape[0] <= window:
        return np.pad(mono, (0, window - mono.shape[0])).astype(np.float32)
    hop = rate_hz // 8
    starts = np.arange(0, mono.shape[0] - window + 1, hop)
    energy = np.cumsum(np.concatenate([[0.0], np.square(mono, dtype=np.float64)]))
    best = int(starts[int(np.argmax(energy[starts + window] - energy[starts]))])
    return np.ascontiguousarray(mono[best : best + window])


_MEL: dict[str, Any] = {}
#: What :func:`log_mel` gives for digital silence (-100 dB).
MEL_FLOOR = (-100.0 + 50.0) / 30.0


def log_mel(audio: torch.Tensor) -> torch.Tensor:
    """(B, samples) 16 kHz -> (B, 1, 64, frames) log-mel, roughly in [-1, 2] (dB scaled, absolute:
    louder sounds give larger values)."""
    import torchaudio

    if "mel" not in _MEL:
        _MEL["mel"] = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE_HZ, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, f_min=30.0, f_max=8000.0,
            power=2.0,
        )
    mel = _MEL["mel"](audio.float())
    db = 10 * torch.log10(mel + 1e-10)
    return ((db.clamp(min=-100.0) + 50.0) / 30.0).unsqueeze(1)


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------


class AudioEncoder(nn.Module):
    """Log-mel -> 128-d embedding (4 conv blocks, mean+max pooling, a linear layer), with heads
    for the attributes it is trained on: group logits, pitched logit, pitch position, onsets,
    loudness."""

    def __init__(self, embed_dim: int = EMBED_DIM, width: int = 16) -> None:
        super().__init__()
        chans = [1, width, width * 2, width * 4, width * 8]
        blocks = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            blocks += [nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(8 if cout >= 8 else 1, cout), nn.GELU(),
                       nn.MaxPool2d(2)]
        self.convs = nn.Sequential(*blocks)
        self.fc = nn.Linear(chans[-1] * 2, embed_dim)
        self.heads = nn.Linear(embed_dim, len(GROUPS) + 4)

    def embed(self, mel: torch.Tensor) -> torch.Tensor:
        h = self.convs(mel)
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.fc(pooled)

    def predict(self, embedding: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.heads(F.gelu(embedding))
        n = len(GROUPS)
        return {"group": out[:, :n], "pitched": out[:, n], "pitch": out[:, n + 1], "onsets": out[:, n + 2],
                "loudness": out[:, n + 3]}


class Projector(nn.Module):
    """Seed 002's encoding layer: leaky-ReLU fully connected layer (with dropout and layer norm)
    from the audio embedding to ``tokens`` tokens of ``dim``."""

    def __init__(self, embed_dim: int, tokens: int, dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.tokens, self.dim = tokens, dim
        self.fc = nn.Linear(embed_dim, tokens * dim)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        h = self.dropout(F.leaky_relu(self.fc(embedding), 0.2))
        return self.norm(h.view(-1, self.tokens, self.dim))


@dataclass
class PictureModelConfig:
    """The architecture (all a folder needs besides its weights)."""

    embed_dim: int = EMBED_DIM
    encoder_width: int = 16
    tokens: int = 4
    token_dim: int = 64
    block_out_channels: tuple[int, ...] = (32, 64, 64)
    attention: tuple[bool, ...] = (False, False, True)
    layers_per_block: int = 1
    attention_head_dim: int = 8
    norm_num_groups: int = 8
    num_train_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    p_uncond: float = 0.2
    #: What the UNet predicts: "epsilon" (the noise, as seed 002) or "sample" (the clean picture:
    #: far fewer training steps give clean pictures; the starter uses it).
    prediction_type: str = "epsilon"
    #: The projector also reads the encoder's attribute heads (group probabilities, pitched
    #: probability, pitch, onsets, loudness) beside the embedding (:meth:`PictureModel.condition`).
    head_condition: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PictureModelConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("block_out_channels", "attention"):
            if name in known:
                known[name] = tuple(known[name])
        return cls(**known)


class PictureModel(nn.Module):
    """Encoder + projector + DDPM UNet (see the module docstring)."""

    def __init__(self, config: PictureModelConfig | None = None) -> None:
        super().__init__()
        from diffusers import UNet2DConditionModel

        self.config = config = config or PictureModelConfig()
        self.encoder = AudioEncoder(config.embed_dim, config.encoder_width)
        heads = len(GROUPS) + 4 if config.head_condition else 0
        self.projector = Projector(config.embed_dim + heads, config.tokens, config.token_dim)
        down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in config.attention)
        up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(config.attention))
        self.unet = UNet2DConditionModel(
            sample_size=SIZE // 2, in_channels=12, out_channels=12, layers_per_block=config.layers_per_block,
            block_out_channels=config.block_out_channels, down_block_types=down, up_block_types=up,
            cross_attention_dim=config.token_dim, attention_head_dim=config.attention_head_dim,
            norm_num_groups=config.norm_num_groups, class_embed_type="projection",
            projection_class_embeddings_input_dim=config.token_dim,
        )

    # -- pieces ----------------------------------------------------------------------------

    def embed_audio(self, clips: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, WINDOW_SAMPLES) prepared clips -> (B, embed_dim) audio embeddings."""
        return self.encoder.embed(log_mel(torch.as_tensor(clips)))

    def condition(self, embedding: torch.Tensor) -> torch.Tensor:
        """What the projector reads: the (B, embed_dim) embeddings, and with ``head_condition`` the
        encoder's heads read from them (group probabilities, pitched probability, pitch position,
        onsets, loudness), so the pictures can follow what the encoder names even for a sound whose
        embedding lies away from the training sounds'."""
        if not self.config.head_condition:
            return embedding
        heads = self.encoder.predict(embedding)
        scalars = [heads["pitched"].sigmoid(), heads["pitch"], heads["onsets"], heads["loudness"]]
        return torch.cat([embedding, heads["group"].softmax(dim=1), torch.stack(scalars, dim=1)], dim=1)

    def predict_noise(self, noisy: torch.Tensor, timesteps: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """The UNet's prediction (noise, or the clean picture: ``prediction_type``) for (B, 3, 64, 64)
        ``noisy`` pixels at ``timesteps`` given audio embeddings."""
        tokens = self.projector(self.condition(embedding))
        out = self.unet(F.pixel_unshuffle(noisy, 2), timesteps, encoder_hidden_states=tokens,
                        class_labels=tokens.mean(dim=1)).sample
        return F.pixel_shuffle(out, 2)

    def scheduler(self) -> Any:
        from diffusers import DDPMScheduler

        c = self.config
        return DDPMScheduler(num_train_timesteps=c.num_train_timesteps, beta_start=c.beta_start, beta_end=c.beta_end,
                             beta_schedule="linear", clip_sample=True, clip_sample_range=1.0,
                             prediction_type=c.prediction_type)

    # -- training --------------------------------------------------------------------------

    def diffusion_loss(self, pictures: torch.Tensor, embedding: torch.Tensor, generator: torch.Generator,
                       scheduler: Any) -> torch.Tensor:
        """The DDPM loss of a batch (MSE of the predicted noise, or of the predicted picture for
        ``prediction_type`` "sample"): ``pictures`` (B, 3, 64, 64) in [-1, 1], the condition
        dropped (zero embedding) for ``p_uncond`` of the batch."""
        batch = pictures.shape[0]
        noise = torch.randn(pictures.shape, generator=generator)
        t = torch.randint(0, self.config.num_train_timesteps, (batch,), generator=generator)
        drop = torch.rand(batch, generator=generator) < self.config.p_uncond
        embedding = torch.where(drop[:, None], torch.zeros_like(embedding), embedding)
        noisy = scheduler.add_noise(pictures, noise, t)
        target = pictures if self.config.prediction_type == "sample" else noise
        return F.mse_loss(self.predict_noise(noisy, t, embedding), target)

    # -- sampling --------------------------------------------------------------------------

    def sample_steps(
        self, embedding: torch.Tensor, seed: int, *, steps: int = 50, guidance: float = 3.0
    ) -> Any:
        """Generator: one picture for one (1, embed_dim) embedding, yielding ``(step, steps)``
        after each step and returning uint8 (64, 64, 3). Ancestral DDPM over ``steps`` of the
        1000 timesteps; ``guidance`` 0 is unconditional, 1 conditional only."""
        scheduler = self.scheduler()
        scheduler.set_timesteps(steps)
        generator = torch.Generator().manual_seed(int(seed))
        x = torch.randn((1, 3, SIZE, SIZE), generator=generator)
        both = torch.cat([torch.zeros_like(embedding), embedding])
        for i, t in enumerate(scheduler.timesteps):
            with torch.no_grad():
                eps_uncond, eps_cond = self.predict_noise(torch.cat([x, x]), t.repeat(2), both).chunk(2)
                eps = eps_uncond + guidance * (eps_cond - eps_uncond)
                x = scheduler.step(eps, t, x, generator=generator).prev_sample
            yield i + 1, steps
        pixels = ((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return pixels.permute(1, 2, 0).numpy()

    def sample(self, embedding: torch.Tensor, seed: int, *, steps: int = 50, guidance: float = 3.0) -> np.ndarray:
        """:meth:`sample_steps` run to the end: uint8 (64, 64, 3)."""
        from engine.specs import run_to_end

        return run_to_end(self.sample_steps(embedding, seed, steps=steps, guidance=guidance))


# ---------------------------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------------------------


@dataclass
class PictureModelCard:
    """What a folder says about itself (the app and the CLI show it)."""

    title: str = "Picture model"
    description: str = ""
    trained_on: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def is_picture_model(folder: str | Path) -> bool:
    """Whether ``folder`` holds a picture model (its ``picture_model.json``)."""
    return (Path(folder) / CONFIG_FILE).is_file()


def save_picture_model(model: PictureModel, folder: str | Path, card: PictureModelCard, *, half: bool = True) -> Path:
    """Write ``model`` to ``folder`` (weights in float16 when ``half``: half the size, loaded back as float32)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE))
    data = {"format": FORMAT, "config": asdict(model.config), "card": asdict(card)}
    (folder / CONFIG_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return folder


def read_card(folder: str | Path) -> PictureModelCard:
    data = json.loads((Path(folder) / CONFIG_FILE).read_text(encoding="utf-8"))
    return PictureModelCard(**{k: v for k, v in data.get("card", {}).items() if k in PictureModelCard.__dataclass_fields__})


def read_folder_config(folder: Path, name: str, format_name: str, what: str) -> dict[str, Any]:
    """The JSON file ``name`` of ``folder``, checked to carry ``"format": format_name``. Raises
    ValueError saying the folder is not ``what`` (unreadable file, other format)."""
    try:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"'{folder}' is not {what} ({name} unreadable: {error}).") from None
    if data.get("format") != format_name:
        raise ValueError(f"'{folder}' is not {what} (format {data.get('format')!r}).")
    return data


def load_picture_model(folder: str | Path) -> PictureModel:
    """The picture model in ``folder`` (float32, eval mode). Raises ValueError for a folder
    that is not one (or is damaged)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    data = read_folder_config(folder, CONFIG_FILE, FORMAT, "a picture model")
    model = PictureModel(PictureModelConfig.from_dict(data.get("config", {})))
    try:
        state = load_file(str(folder / WEIGHTS_FILE))
    except (OSError, ValueError) as error:
        raise ValueError(f"the picture model in '{folder}' has no readable {WEIGHTS_FILE}: {error}") from None
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if missing or unexpected:
        raise ValueError(f"the weights in '{folder}' do not fit its config (missing {missing[:3]}, unexpected {unexpected[:3]}).")
    return model.eval()


def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def group_of_logits(logits: torch.Tensor) -> list[str]:
    return [GROUPS[i] for i in logits.argmax(dim=1).tolist()]


