"""An AudioToken-style adapter (Yariv et al. 2023): a clip becomes pseudo-words in SD 1.5's text space.

Issue 16, part 2's second target. SD 1.5 (UNet, VAE, text encoder, tokenizer) stays frozen; only a
small embedder is trained:

    clip -> audio encoder (frozen: the picture model's, :class:`engine.pictures.model.AudioEncoder`,
            on the loudest 2.56 s; or CLAP's audio tower, ``laion/clap-htsat-unfused``, on the loudest
            10 s, where it is in the cache or a folder)
         -> embedding -> embedder MLP (layer norm, Linear, GELU, Linear) -> ``tokens`` vectors
         -> they replace the placeholder ``<audio>`` of a prompt such as "a photo of <audio>" in the
            text encoder's INPUT embeddings (a forward hook on its token embedding) -> SD's UNet.

The embedder's last layer starts at zero and its output is added to the input embedding of an
initial word ("sound"), so an untrained adapter is the prompt "a photo of sound" (as textual
inversion starts from a word). Training: the standard denoising loss (epsilon or v, as the base's
scheduler says) on the user's (audio, picture) pairs or videos (:func:`engine.pictures.training.scan_folder`),
the pictures' VAE latents cached once (mean and std, a latent drawn per step), seeded, with
checkpoints that resume bit for bit. Classifier-free guidance at sampling mixes the audio prompt
with SD's own unconditional prompt (the negative prompt, empty by default): the frozen UNet already
knows it, so no condition dropout is needed while training.

An adapter folder holds ``audio_adapter.json`` (format, config, card: the base SD model id and the
revision it was trained on, the audio encoder it came from, tokens, template, training settings and
losses), ``adapter.safetensors`` (the embedder's weights and a copy of the frozen picture-model
encoder's, so a retrained encoder elsewhere never changes what the adapter hears; CLAP, 600 MB, is
named, not copied, and found in the cache or its folder when the adapter loads) and ``README.md``.
``specdiff-cli train-pictures DATA -o OUT --base <SD model>`` trains one and ``specdiff-cli
illustrate IN.wav --model OUT`` draws with it (:mod:`engine.pictures.illustrate`). Sampling runs the
engine's denoising loop with ``prompt_embeds`` / ``negative_prompt_embeds`` (what
``StableDiffusionPipeline(prompt_embeds=...)`` takes); picture ``i`` uses seed ``seed + i`` and its
recipe regenerates it bit for bit on the same device.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.models.errors import ModelError, ModelNotDownloadedError
from engine.pictures.illustrate import ADAPTER_CONFIG_FILE as CONFIG_FILE
from engine.pictures.illustrate import ADAPTER_PLACEHOLDER as PLACEHOLDER
from engine.pictures.illustrate import ADAPTER_TEMPLATE as TEMPLATE
from engine.specs import Progress, TaskResult

WEIGHTS_FILE = "adapter.safetensors"
FORMAT = "specdiff-audio-adapter"
INIT_WORD = "sound"
DEFAULT_ENCODER = "builtin:pictures"
DEFAULT_SIZE = 512
#: CLAP's audio tower hears 10 s at 48 kHz (transformers' ClapFeatureExtractor; a clip of exactly
#: that length is neither padded nor cut at random).
CLAP_WINDOW_S = 10.0
CLAP_RATE_HZ = 48000
CLAP_FILES = ("config.json", "preprocessor_config.json")
#: Samples at each checkpoint (the training monitor's): this many steps, seed, guidance.
SAMPLE_STEPS = 20
SAMPLE_SEED = 0
SAMPLE_GUIDANCE = 7.5


class AdapterTrainingError(ValueError):
    """Training cannot go on (out of GPU memory, a loss that is not finite, an inpainting base)."""


# ---------------------------------------------------------------------------------------------
# The networks
# ---------------------------------------------------------------------------------------------


@dataclass
class AdapterConfig:
    """The architecture (all a folder needs besides its weights)."""

    embed_dim: int = 128
    encoder_width: int = 16
    #: "picture" (a picture model's encoder, copied into the adapter) or "clap" (``clap_model``).
    encoder: str = "picture"
    clap_model: str = ""
    token_dim: int = 768
    tokens: int = 1
    hidden: int = 512
    placeholder: str = PLACEHOLDER
    template: str = TEMPLATE
    init_word: str = INIT_WORD

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdapterConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class Embedder(nn.Module):
    """Audio embedding (B, embed_dim) -> (B, tokens, token_dim) pseudo-word input embeddings:
    ``init + scale * MLP(embedding)`` with the MLP's last layer starting at zero; ``scale`` is the
    spread of the text encoder's word embeddings (their elements' standard deviation), so weights of
    the usual size give pseudo-words of a real word's size whatever the text encoder."""

    def __init__(self, config: AdapterConfig) -> None:
        super().__init__()
        self.tokens, self.dim = config.tokens, config.token_dim
        self.norm = nn.LayerNorm(config.embed_dim)
        self.fc1 = nn.Linear(config.embed_dim, config.hidden)
        self.fc2 = nn.Linear(config.hidden, config.tokens * config.token_dim)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)
        self.register_buffer("init", torch.zeros(config.tokens, config.token_dim))
        self.register_buffer("scale", torch.ones(()))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.fc1(self.norm(embedding)))
        return self.init + self.scale * self.fc2(h).view(-1, self.tokens, self.dim)


class AudioAdapter(nn.Module):
    """The frozen audio encoder and the trained embedder. A CLAP encoder is attached with
    :meth:`attach_clap` and kept out of the state dict (it is named in the config, not saved)."""

    def __init__(self, config: AdapterConfig) -> None:
        super().__init__()
        from engine.pictures.model import AudioEncoder

        self.config = config
        if config.encoder not in ("picture", "clap"):
            raise ValueError(f"unknown audio encoder kind {config.encoder!r} (picture or clap).")
        self.encoder = (AudioEncoder(config.embed_dim, config.encoder_width).requires_grad_(False).eval()
                        if config.encoder == "picture" else None)
        self.embedder = Embedder(config)
        self.clap: tuple[Any, Any] | None = None  # (feature extractor, ClapAudioModelWithProjection)

    def attach_clap(self, extractor: Any, model: Any) -> None:
        self.clap = (extractor, model.requires_grad_(False).eval())

    def prepare(self, audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        """The window the encoder hears (:func:`engine.pictures.model.prepare_clip`: the loudest
        2.56 s at 16 kHz, or 10 s at 48 kHz for CLAP); one-line errors for silence and short clips."""
        from engine.pictures.model import prepare_clip

        return prepare_clip(audio, sample_rate_hz, **clip_window(self.config.encoder))

    def embed_audio(self, clips: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, samples) prepared clips (:meth:`prepare`) -> (B, embed_dim), on the CPU."""
        from engine.pictures.model import log_mel

        with torch.no_grad():
            if self.encoder is not None:
                return self.encoder.embed(log_mel(torch.as_tensor(clips)))
            if self.clap is None:
                raise ValueError(f"the adapter's CLAP model '{self.config.clap_model}' is not loaded.")
            extractor, model = self.clap
            inputs = extractor(list(np.asarray(clips, dtype=np.float32)), sampling_rate=CLAP_RATE_HZ,
                               return_tensors="pt")
            return model(**inputs).audio_embeds.float()


def clip_window(encoder: str) -> dict[str, Any]:
    """:func:`engine.pictures.model.prepare_clip`'s window and rate for an encoder kind."""
    return {"window_s": CLAP_WINDOW_S, "rate_hz": CLAP_RATE_HZ} if encoder == "clap" else {}


class ClapNotDownloadedError(ModelNotDownloadedError):
    """The CLAP model is a hub id that is not in the cache."""

    def __init__(self, name: str, *, offline: bool) -> None:
        self.model_id, self.revision = name, None
        state = " and offline mode is on" if offline else ""
        ModelError.__init__(
            self, f"The CLAP model '{name}' is not downloaded{state}. The audio adapter hears sounds through it: "
                  f"while online, run `hf download {name}` (it goes to the Hugging Face cache) or give its folder.")


def resolve_clap(store: Any, name: str) -> Path:
    """The folder of a CLAP model (a folder, or a hub repo id in the store's cache; no network)."""
    from engine.models.errors import ModelNotFoundError, NotADiffusersModelError

    folder = Path(name).expanduser()
    if folder.is_dir() or name.startswith((".", "/", "~")) or name.count("/") != 1:
        if not folder.is_dir():
            raise ModelNotFoundError(f"The audio encoder folder '{name}' does not exist.")
    else:
        from huggingface_hub import try_to_load_from_cache

        cache = str(store.cache_dir) if store is not None else None
        found = try_to_load_from_cache(name, "config.json", cache_dir=cache)
        if not isinstance(found, str):
            raise ClapNotDownloadedError(name, offline=bool(getattr(store, "is_offline", False)))
        folder = Path(found).parent
    missing = [f for f in CLAP_FILES if not (folder / f).is_file()] + ([] if any(folder.glob("*.safetensors"))
                                                                        else ["*.safetensors weights"])
    kind = None if missing else json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type")
    if missing or kind != "clap":
        raise NotADiffusersModelError(
            f"'{name}' is neither a picture model nor a CLAP model (missing {', '.join(missing)})" if missing else
            f"'{name}' is neither a picture model nor a CLAP model (its model_type is {kind!r}); an adapter hears "
            "through a picture model (builtin:pictures) or CLAP (laion/clap-htsat-unfused).")
    return folder


def load_clap(folder: Path) -> tuple[Any, Any]:
    """(ClapFeatureExtractor, ClapAudioModelWithProjection) from a CLAP folder (the text tower is not loaded)."""
    from transformers import ClapAudioModelWithProjection, ClapFeatureExtractor

    from engine.models.loading import progress_bars_disabled

    with progress_bars_disabled():
        extractor = ClapFeatureExtractor.from_pretrained(folder, local_files_only=True)
        model = ClapAudioModelWithProjection.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    return extractor, model.eval()


def new_adapter(audio_encoder: str, store: Any, *, token_dim: int, tokens: int, template: str, seed: int) -> AudioAdapter:
    """A fresh adapter hearing through ``audio_encoder`` (a picture model, whose encoder is copied,
    or CLAP), its embedder initialised from ``seed``."""
    from engine.pictures.illustrate import picture_model_dir
    from engine.pictures.model import load_picture_model

    folder = picture_model_dir(audio_encoder)
    if folder is not None:
        picture = load_picture_model(folder)
        config = AdapterConfig(embed_dim=picture.config.embed_dim, encoder_width=picture.config.encoder_width,
                               token_dim=token_dim, tokens=tokens, template=template)
    else:
        clap_folder = resolve_clap(store, audio_encoder)
        extractor, clap = load_clap(clap_folder)
        name = str(clap_folder.resolve()) if Path(audio_encoder).expanduser().is_dir() else audio_encoder
        config = AdapterConfig(embed_dim=int(clap.config.projection_dim), encoder="clap", clap_model=name,
                               token_dim=token_dim, tokens=tokens, template=template)
    with torch.random.fork_rng(devices=[]):  # the embedder's init draws from torch's global generator
        torch.manual_seed(seed)
        adapter = AudioAdapter(config)
    if folder is not None:
        adapter.encoder.load_state_dict(picture.encoder.state_dict())
    else:
        adapter.attach_clap(extractor, clap)
    return adapter


# ---------------------------------------------------------------------------------------------
# The text side: the placeholder's slots in the prompt, the tokens put into them
# ---------------------------------------------------------------------------------------------


def prompt_ids(tokenizer: Any, prompt: str, placeholder: str, tokens: int, slot_id: int) -> tuple[torch.Tensor, list[int]]:
    """(1, max_length) token ids of ``prompt`` with ``tokens`` slots for each ``placeholder`` (padded
    as SD pads a prompt) and the slots' positions. The slots hold ``slot_id`` (any ordinary token:
    their input embeddings are replaced). Raises ValueError for a prompt without the placeholder or
    one too long for the text encoder."""
    parts = prompt.split(placeholder)
    if len(parts) < 2:
        raise ValueError(f"the prompt {prompt!r} has no {placeholder} for the sound.")
    length = int(tokenizer.model_max_length)
    ids = [int(tokenizer.bos_token_id)]
    slots: list[int] = []
    for index, part in enumerate(parts):
        if part.strip():
            ids += tokenizer(part.strip(), add_special_tokens=False).input_ids
        if index < len(parts) - 1:
            slots += range(len(ids), len(ids) + tokens)
            ids += [slot_id] * tokens
    ids.append(int(tokenizer.eos_token_id))
    if len(ids) > length:
        raise ValueError(f"the prompt {prompt!r} is {len(ids)} tokens long with the sound's; the text encoder reads "
                         f"{length}: shorten it.")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids += [int(pad)] * (length - len(ids))
    return torch.tensor([ids]), slots


@contextlib.contextmanager
def tokens_in(text_encoder: Any, slots: Sequence[int], audio_tokens: torch.Tensor) -> Iterator[None]:
    """While open, ``text_encoder``'s token embedding puts ``audio_tokens`` (B, tokens, D) into
    ``slots`` (the placeholder's positions; the same for every prompt of the batch, each
    placeholder taking the same tokens) of its output: the pseudo-words enter where a word's
    input embedding would."""
    module = text_encoder.get_input_embeddings()
    per_slot = audio_tokens.shape[1]

    def hook(_module: Any, _args: Any, output: torch.Tensor) -> torch.Tensor:
        out = output.clone()
        for start in range(0, len(slots), per_slot):
            out[:, list(slots[start : start + per_slot])] = audio_tokens.to(device=out.device, dtype=out.dtype)
        return out

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def encode_with_audio(text_encoder: Any, ids: torch.Tensor, slots: Sequence[int], audio_tokens: torch.Tensor) -> torch.Tensor:
    """(B, 77, D) prompt embeddings (the text encoder's last hidden state, as SD 1.5 reads it) of
    ``ids`` (one prompt, repeated for the batch) with the audio tokens in its slots."""
    device = next(text_encoder.parameters()).device
    batch = audio_tokens.shape[0]
    with tokens_in(text_encoder, slots, audio_tokens.to(device)):
        return text_encoder(ids.to(device).expand(batch, -1))[0]


def encode_plain(pipe: Any, text: str) -> torch.Tensor:
    """(1, 77, D) embeddings of a plain prompt (the negative prompt), padded as SD pads it."""
    tokenizer = pipe.tokenizer
    ids = tokenizer([text], padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    device = next(pipe.text_encoder.parameters()).device
    with torch.no_grad():
        return pipe.text_encoder(ids.to(device))[0]


def slot_token(tokenizer: Any, word: str) -> tuple[int, list[int]]:
    """The id the slots hold (the initial word's first token) and all of the word's token ids."""
    word_ids = tokenizer(word, add_special_tokens=False).input_ids
    if not word_ids:
        raise ValueError(f"the initial word {word!r} gives no tokens.")
    return int(word_ids[0]), [int(i) for i in word_ids]


def adapter_prompt(config: AdapterConfig, words: str = "", style: str = "") -> str:
    """The prompt a picture is drawn with: ``words`` when they hold the placeholder, else the
    adapter's template followed by ``words``; then ``style``.

    >>> adapter_prompt(AdapterConfig(), "at night", "watercolour")
    'a photo of <audio>, at night, watercolour'
    """
    words = words.strip()
    parts = [words] if config.placeholder in words else [config.template] + ([words] if words else [])
    if style.strip():
        parts.append(style.strip())
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------------------------


@dataclass
class AdapterCard:
    """What an adapter folder says about itself."""

    title: str = "Audio adapter"
    description: str = ""
    base_model: str = ""
    base_revision: str | None = None
    audio_encoder: str = DEFAULT_ENCODER
    trained_on: str = ""
    training: dict[str, Any] = field(default_factory=dict)


def is_adapter(folder: str | Path) -> bool:
    """Whether ``folder`` holds an audio adapter (its ``audio_adapter.json``)."""
    return (Path(folder) / CONFIG_FILE).is_file()


def save_adapter(adapter: AudioAdapter, folder: str | Path, card: AdapterCard) -> Path:
    """Write ``adapter`` (float32 weights) and ``card`` to ``folder`` with a README."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().cpu().contiguous() for k, v in adapter.state_dict().items()}
    # One metadata key: safetensors writes several in no fixed order, and the same run must give the same bytes.
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": FORMAT})
    data = {"format": FORMAT, "config": asdict(adapter.config), "card": asdict(card)}
    (folder / CONFIG_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    c = adapter.config
    lines = [f"# {card.title}", "", card.description, "",
             f"An AudioToken-style audio adapter for `{card.base_model}` (kept frozen): the audio encoder of "
             f"`{card.audio_encoder}` ({'frozen, copied here' if c.encoder == 'picture' else 'CLAP, frozen, not copied'})"
             f" -> an embedder MLP -> {c.tokens} pseudo-word(s) in place "
             f"of `{c.placeholder}` in the prompt (default `{c.template}`).", "",
             f"    specdiff-cli illustrate IN.wav -o OUT.png --model {folder}", "", "Training:", ""]
    lines += [f"- {k}: {v}" for k, v in card.training.items()]
    (folder / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def read_adapter_card(folder: str | Path) -> AdapterCard:
    return _card(_read_config(Path(folder)))


def _card(data: dict[str, Any]) -> AdapterCard:
    return AdapterCard(**{k: v for k, v in data.get("card", {}).items() if k in AdapterCard.__dataclass_fields__})


def _read_config(folder: Path) -> dict[str, Any]:
    from engine.pictures.model import read_folder_config

    return read_folder_config(folder, CONFIG_FILE, FORMAT, "an audio adapter")


def load_adapter(folder: str | Path, store: Any = None) -> AudioAdapter:
    """The adapter in ``folder`` (float32, eval mode, on the CPU), with its CLAP model found through
    ``store`` (its cache) when it hears through CLAP. Raises ValueError for a folder that is not one
    (or is damaged), the store's errors for a CLAP model that is not there."""
    from safetensors.torch import load_file

    folder = Path(folder)
    adapter = AudioAdapter(AdapterConfig.from_dict(_read_config(folder).get("config", {})))
    try:
        state = load_file(str(folder / WEIGHTS_FILE))
    except (OSError, ValueError) as error:
        raise ValueError(f"the audio adapter in '{folder}' has no readable {WEIGHTS_FILE}: {error}") from None
    missing, unexpected = adapter.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"the weights in '{folder}' do not fit its config (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}).")
    if adapter.config.encoder == "clap":
        adapter.attach_clap(*load_clap(resolve_clap(store, adapter.config.clap_model)))
    return adapter.eval()


_cache: dict[tuple[str, float], AudioAdapter] = {}


def load_cached(folder: Path, store: Any = None) -> AudioAdapter:
    """The adapter in ``folder``, kept loaded while its weights file is unchanged (one at a time)."""
    weights = folder / WEIGHTS_FILE
    key = (str(folder.resolve()), weights.stat().st_mtime if weights.exists() else 0.0)
    if key not in _cache:
        _cache.clear()
        _cache[key] = load_adapter(folder, store)
    return _cache[key]


# ---------------------------------------------------------------------------------------------
# Sampling (the illustrate task's adapter path)
# ---------------------------------------------------------------------------------------------


def audio_prompt_embeds(adapter: AudioAdapter, pipe: Any, clip: np.ndarray, prompt: str) -> torch.Tensor:
    """(1, 77, D) prompt embeddings of ``prompt`` with the clip's pseudo-words in its placeholder."""
    c = adapter.config
    slot_id, _ = slot_token(pipe.tokenizer, c.init_word)
    ids, slots = prompt_ids(pipe.tokenizer, prompt, c.placeholder, c.tokens, slot_id)
    with torch.no_grad():
        tokens = adapter.embedder(adapter.embed_audio(clip[None, :]))
        dtype = next(pipe.text_encoder.parameters()).dtype
        return encode_with_audio(pipe.text_encoder, ids, slots, tokens.to(dtype))


def run_adapter(spec: Any, ctx: Any, folder: Path) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    """Pictures from an adapter folder: the loudest window of the clip its encoder hears ->
    pseudo-words -> the base SD model (from the store, never downloaded here), one denoising run
    per picture."""
    from engine.pictures.model import prepare_clip
    from engine.pictures.zeroshot import draw_variations

    if spec.revision is not None:
        raise ValueError("an audio adapter folder has no revisions (its base model's is in its card); leave the "
                         "revision empty.")
    data = _read_config(folder)
    card, config = _card(data), AdapterConfig.from_dict(data.get("config", {}))
    clip = prepare_clip(spec.audio, spec.sample_rate_hz, **clip_window(config.encoder))  # silence, short: one line
    adapter = load_cached(folder, ctx.store)
    prompt = adapter_prompt(adapter.config, spec.prompt, spec.style)
    yield Progress(stage="load", message=f"Loading {card.base_model} (the adapter's base model)")
    policy = ctx.settings.load_policy() if ctx.settings is not None else None
    try:
        loaded = ctx.pipelines.get(card.base_model, None, **({"policy": policy} if policy is not None else {}))
    except ModelError as error:  # the same error, saying whose base model it is
        error.args = (f"The audio adapter '{folder}' draws with its base model '{card.base_model}': {error}",)
        raise
    if loaded.is_inpainting:
        raise ValueError(f"the adapter's base model '{card.base_model}' is an inpainting model; it needs the "
                         "text-to-image model it was trained on.")
    pipe = loaded.pipeline
    positive = audio_prompt_embeds(adapter, pipe, clip, prompt)
    negative = encode_plain(pipe, spec.negative_prompt)
    return (yield from draw_variations(
        loaded, spec, ctx, {"path": "adapter", "prompt": prompt, "base_model": loaded.model_id,
                            "base_revision": loaded.resolved.revision},
        model_id=str(folder), prompt_embeds=positive, negative_prompt_embeds=negative,
    ))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Training (the train_pictures task's path for an SD base model)
# ---------------------------------------------------------------------------------------------


@dataclass
class _Data:
    """What a folder gave: prepared clips, pictures at the training size, what was skipped."""

    clips: list[np.ndarray] = field(default_factory=list)
    pictures: list[np.ndarray] = field(default_factory=list)
    heard: list[tuple[int, str]] = field(default_factory=list)  # (index, name): each source's first pair
    skipped: list[tuple[str, str]] = field(default_factory=list)
    data: list[list[Any]] = field(default_factory=list)
    videos: list[list[Any]] = field(default_factory=list)


def heard_clip(clip: np.ndarray, encoder: str) -> np.ndarray:
    """A clip as the encoder hears it: a video's window, decoded at 16 kHz and kept as a view of the
    soundtrack while the folder is read (an hour of video holds one soundtrack, not 3600 windows),
    resampled to CLAP's 48 kHz here, a batch at a time; other clips as they are."""
    from engine.audio.io import resample
    from engine.pictures.model import SAMPLE_RATE_HZ

    if encoder != "clap" or clip.size == int(round(CLAP_WINDOW_S * CLAP_RATE_HZ)):
        return clip
    return resample(clip[None, :], SAMPLE_RATE_HZ, CLAP_RATE_HZ)[0].astype(np.float32)


def _read_data(spec: Any, ctx: Any, found: Any, encoder: str) -> Generator[Progress, None, _Data]:
    """The pairs' and videos' clips (the window ``encoder`` hears) and pictures at ``spec.size``."""
    from PIL import Image

    from engine.audio.io import read_audio
    from engine.pictures.model import WINDOW_S, prepare_clip
    from engine.pictures.training import _one_line, _sha256
    from engine.pictures.video import VideoError, cut_video, square_picture

    out = _Data(skipped=list(found.skipped))
    window = clip_window(encoder)
    if found.pairs:
        yield Progress(stage="load", message=f"Reading {len(found.pairs)} pairs")
    for audio_path, picture_path in found.pairs:
        ctx.check_cancelled()
        try:
            audio, rate = read_audio(audio_path)
            clip = prepare_clip(audio, rate, **window)
            with Image.open(picture_path) as image:
                picture = square_picture(np.asarray(image.convert("RGB")), spec.size)
        except (ValueError, OSError) as error:
            out.skipped.append((audio_path.name, _one_line(error, audio_path.name)))
            continue
        out.heard.append((len(out.pictures), audio_path.name))
        out.clips.append(clip)
        out.pictures.append(picture)
        out.data.append([audio_path.name, picture_path.name, _sha256(audio_path), _sha256(picture_path)])
    for number, video in enumerate(found.videos, 1):
        yield Progress(stage="load", step=number - 1, total=len(found.videos),
                       message=f"Cutting {video.name} ({number}/{len(found.videos)})")
        try:
            cut = cut_video(video, every_s=spec.frame_every_s, window_s=window.get("window_s", WINDOW_S), size=spec.size,
                            check=ctx.check_cancelled)
        except VideoError as error:
            out.skipped.append((video.name, _one_line(error, video.name)))
            continue
        if cut.pairs:
            middle = len(cut.pairs) // 2
            out.heard.append((len(out.pictures) + middle, f"{video.name} at {cut.pairs[middle].time_s:.1f} s"))
            out.clips += [p.clip for p in cut.pairs]  # at 16 kHz, views of the soundtrack (see heard_clip)
            out.pictures += [p.picture for p in cut.pairs]
        else:
            out.skipped.append((video.name, "gave no pair: " + "; ".join(cut.problems())))
        out.videos.append([video.name, _sha256(video), len(cut.pairs), len(cut.skipped)])
    return out


class AdapterTrainer:
    """One run's state: the frozen SD components, the cached latents and audio embeddings, the
    embedder and its optimizer, the generator every random draw comes from (on the CPU).

    ``gradient_checkpointing`` (None: on a GPU) recomputes the frozen UNet's activations in the
    backward pass instead of keeping them: the same gradients in far less memory."""

    def __init__(self, spec: Any, loaded: Any, adapter: AudioAdapter, embeddings: torch.Tensor,
                 pictures: list[np.ndarray], *, gradient_checkpointing: bool | None = None) -> None:
        from diffusers import DDPMScheduler

        from engine.pipelines.sampling import image_to_tensor

        self.spec, self.loaded = spec, loaded
        self.pipe = pipe = loaded.pipeline
        self.device, self.dtype = loaded.device, loaded.dtype
        for module in (pipe.unet, pipe.vae, pipe.text_encoder):
            module.requires_grad_(False)
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self.prediction = self.noise_scheduler.config.prediction_type
        if self.prediction not in ("epsilon", "v_prediction"):
            raise AdapterTrainingError(f"The model predicts {self.prediction!r}; supported are epsilon and v_prediction.")
        seed = int(spec.seed if spec.seed is not None else 0)
        embedding = pipe.text_encoder.get_input_embeddings()
        self.adapter, config = adapter, adapter.config
        if config.token_dim != embedding.embedding_dim:
            raise AdapterTrainingError(f"the adapter makes {config.token_dim}-wide pseudo-words; this text encoder reads "
                                       f"{embedding.embedding_dim}.")
        slot_id, word_ids = slot_token(pipe.tokenizer, config.init_word)
        with torch.no_grad():
            self.adapter.embedder.init.copy_(embedding.weight[word_ids].float().mean(dim=0).cpu().expand(config.tokens, -1))
            self.adapter.embedder.scale.fill_(float(embedding.weight.float().std()))
        self.embedder = self.adapter.embedder.to(self.device).train()
        self.ids, self.slots = prompt_ids(pipe.tokenizer, config.template, config.placeholder, config.tokens, slot_id)
        self.embeddings = embeddings.to(self.device)
        scale = float(pipe.vae.config.scaling_factor)
        means, stds = [], []
        with torch.no_grad():
            for picture in pictures:  # the latents of the pictures, once
                x = image_to_tensor(picture, spec.size, spec.size).to(self.device, self.dtype)
                dist = pipe.vae.encode(x).latent_dist
                means.append(dist.mean.float() * scale)
                stds.append(dist.std.float() * scale)
        self.mean, self.std = torch.cat(means), torch.cat(stds)
        self.optimizer = torch.optim.AdamW(self.embedder.parameters(), lr=spec.learning_rate, weight_decay=1e-2)
        self.scaler = torch.amp.GradScaler("cuda") if self.device.type == "cuda" and self.dtype == torch.float16 else None
        if gradient_checkpointing is None:
            gradient_checkpointing = self.device.type == "cuda"
        if gradient_checkpointing:
            pipe.unet.enable_gradient_checkpointing()
            pipe.unet.train()
        self.generator = torch.Generator("cpu").manual_seed(seed)
        self.step = 0

    def loss(self, index: torch.Tensor) -> torch.Tensor:
        """The denoising loss of the pairs ``index`` (all draws from the run's generator)."""
        g = self.generator
        mean, std = self.mean[index], self.std[index]
        z0 = mean + std * torch.randn(mean.shape, generator=g).to(self.device)
        noise = torch.randn(z0.shape, generator=g).to(self.device)
        t = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (len(index),), generator=g).to(self.device)
        noisy = self.noise_scheduler.add_noise(z0, noise, t)
        tokens = self.embedder(self.embeddings[index])
        hidden = encode_with_audio(self.pipe.text_encoder, self.ids, self.slots, tokens.to(self.dtype))
        pred = self.pipe.unet(noisy.to(self.dtype), t, encoder_hidden_states=hidden).sample
        target = self.noise_scheduler.get_velocity(z0, noise, t) if self.prediction == "v_prediction" else noise
        return F.mse_loss(pred.float(), target.float())

    def evaluate(self, pairs: int = 16, draws: int = 8) -> float:
        """The denoising loss on up to ``pairs`` training pairs at ``draws`` timesteps spread over
        the schedule, with fixed noise (its own generator): the same draws before and after
        training, so the two numbers compare (the training loss's own draws are random)."""
        g = torch.Generator("cpu").manual_seed(1234)
        count = min(pairs, len(self.mean))
        total = self.noise_scheduler.config.num_train_timesteps
        index = torch.arange(count).repeat_interleave(draws)
        t = ((torch.arange(draws) + 0.5) * total / draws).long().repeat(count).to(self.device)
        mean, std = self.mean[index], self.std[index]
        z0 = mean + std * torch.randn(mean.shape, generator=g).to(self.device)
        noise = torch.randn(z0.shape, generator=g).to(self.device)
        losses = []
        with torch.no_grad():
            for first in range(0, len(index), 8):
                part = slice(first, first + 8)
                noisy = self.noise_scheduler.add_noise(z0[part], noise[part], t[part])
                tokens = self.embedder(self.embeddings[index[part].to(self.device)])
                hidden = encode_with_audio(self.pipe.text_encoder, self.ids, self.slots, tokens.to(self.dtype))
                pred = self.pipe.unet(noisy.to(self.dtype), t[part], encoder_hidden_states=hidden).sample
                target = (self.noise_scheduler.get_velocity(z0[part], noise[part], t[part])
                          if self.prediction == "v_prediction" else noise[part])
                losses.append((pred.float() - target.float()).pow(2).mean(dim=(1, 2, 3)))
        return float(torch.cat(losses).mean())

    def train_step(self) -> float:
        batch = min(self.spec.batch_size, len(self.mean))
        index = torch.randint(0, len(self.mean), (batch,), generator=self.generator)
        try:
            loss = self.loss(index)
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.embedder.parameters(), 1.0)
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        except torch.cuda.OutOfMemoryError:
            self.optimizer.zero_grad(set_to_none=True)
            raise AdapterTrainingError(
                f"Out of GPU memory training the adapter at {self.spec.size} px with {batch} pairs a step: try a "
                "smaller --batch (1 fits an 8 GB card at 512 px) or --size 256.") from None
        self.step += 1
        value = float(loss.detach())
        if not np.isfinite(value):
            raise AdapterTrainingError(f"The loss became {value} at step {self.step}; lower the learning rate.")
        return value

    def state(self) -> dict[str, Any]:
        return {"embedder": self.embedder.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "step": self.step,
                "scaler": self.scaler.state_dict() if self.scaler is not None else None}

    def restore(self, saved: dict[str, Any]) -> None:
        self.embedder.load_state_dict(saved["embedder"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.generator.set_state(saved["generator"])
        self.step = int(saved["step"])
        if self.scaler is not None and saved.get("scaler"):
            self.scaler.load_state_dict(saved["scaler"])

    def draw(self, index: int, *, trained: bool = True) -> np.ndarray:
        """The picture the adapter (``trained``) or the untrained start (the initial word) draws for
        pair ``index``: uint8 (size, size, 3), :data:`SAMPLE_STEPS` steps, seed :data:`SAMPLE_SEED`."""
        from engine.pipelines.sampling import denoise, to_uint8
        from engine.specs import run_to_end

        unet = self.pipe.unet
        was_training = unet.training
        unet.eval()
        try:
            with torch.no_grad():
                tokens = self.embedder(self.embeddings[index : index + 1]) if trained else \
                    self.embedder.init.expand(1, -1, -1)
                positive = encode_with_audio(self.pipe.text_encoder, self.ids, self.slots, tokens.to(self.dtype))
            negative = encode_plain(self.pipe, "")
            pixels = run_to_end(denoise(self.loaded, prompt_embeds=positive, negative_prompt_embeds=negative,
                                        height=self.spec.size, width=self.spec.size, num_inference_steps=SAMPLE_STEPS,
                                        guidance_scale=SAMPLE_GUIDANCE, scheduler="ddim", generator_seed=SAMPLE_SEED))
        finally:
            unet.train(was_training)
        return to_uint8(pixels)


def run_training(spec: Any, ctx: Any, found: Any) -> Generator[Progress, None, tuple[TaskResult, ...]]:
    """Train an adapter for the SD model ``spec.base`` on the pairs and videos ``found``."""
    from engine.models.loading import load_pipeline
    from engine.models.policy import LoadPolicy
    from engine.pictures.illustrate import picture_model_dir, portable_picture_model_id
    from engine.pictures.model import SAMPLE_RATE_HZ
    from engine.pictures.training import PictureSample, PictureTrainingProgress, _removed_message
    from engine.training.lora import resolve_model

    encoder_folder = picture_model_dir(spec.audio_encoder)
    if encoder_folder is None:
        resolve_clap(ctx.store, spec.audio_encoder)  # a CLAP model that is not there says so before any reading
    resolved = resolve_model(spec.base, ctx.store)  # so does a missing or not-downloaded base
    data = yield from _read_data(spec, ctx, found, "picture" if encoder_folder is not None else "clap")
    for name, why in data.skipped:
        yield Progress(stage="load", message=f"Skipped {name}: {why}")
    if not data.pictures:
        raise ValueError(f"'{spec.pairs_dir}' gave nothing to train on: "
                         + "; ".join(f"{name}: {why}" for name, why in data.skipped))
    yield Progress(stage="load", message=f"Loading {spec.base} (frozen)")
    settings = ctx.settings.load_policy() if ctx.settings is not None else LoadPolicy()
    if getattr(ctx, "pipelines", None) is not None and settings.device != "cpu":
        ctx.pipelines.unload()  # a GPU's memory goes to training (the next picture job loads its model again)
    loaded = load_pipeline(resolved, LoadPolicy(device=settings.device, precision=settings.precision),
                           allow_pickle=bool(getattr(ctx.store, "allow_pickle", False)))
    if loaded.is_inpainting:
        raise AdapterTrainingError(f"'{spec.base}' is an inpainting model; an adapter needs a text-to-image SD model.")
    seed = int(spec.seed if spec.seed is not None else 0)
    adapter = new_adapter(spec.audio_encoder, ctx.store, token_dim=int(loaded.pipeline.text_encoder.config.hidden_size),
                          tokens=spec.tokens, template=spec.template, seed=seed)
    yield Progress(stage="load", message=f"Hearing {len(data.clips)} sounds through {spec.audio_encoder}")
    kind = adapter.config.encoder
    embeddings = torch.cat([adapter.embed_audio(np.stack([heard_clip(c, kind) for c in data.clips[i : i + 64]]))
                            for i in range(0, len(data.clips), 64)])
    from_videos = sum(v[2] for v in data.videos)
    yield Progress(stage="load", message=f"Encoding {len(data.pictures)} pictures at {spec.size} px")
    trainer = AdapterTrainer(spec, loaded, adapter, embeddings, data.pictures)
    yield Progress(stage="load", message=f"Training an audio adapter on {len(data.pictures)} pairs"
                   + (f" ({from_videos} cut from {len(data.videos)} videos)" if data.videos else ""))
    count = min(2, len(data.heard))  # the first and the last source's pairs
    shown = [data.heard[round(i * (len(data.heard) - 1) / max(1, count - 1))] for i in range(count)]
    base_pictures = [trainer.draw(i, trained=False) for i, _ in shown] if spec.checkpoint_every else []
    before = trainer.evaluate()  # the untrained adapter's (the initial word's), also on a resumed run
    latest = spec.latest_checkpoint() if spec.resume else None
    if not spec.resume:
        removed = spec.clear_checkpoints()
        if removed:
            yield Progress(stage="load", message=_removed_message(spec, removed))
    if latest is not None:
        trainer.restore(torch.load(latest[1] / "state.pt", weights_only=True))
    heard_rate = clip_window(adapter.config.encoder).get("rate_hz", SAMPLE_RATE_HZ)
    losses: list[float] = []
    while trainer.step < spec.num_steps:
        loss = trainer.train_step()
        losses.append(loss)
        ctx.check_cancelled()
        step = trainer.step
        yield PictureTrainingProgress(stage="train", step=step, total=spec.num_steps,
                                      message=f"loss {np.mean(losses[-20:]):.4f}", loss=loss)
        saved_to = spec.save_checkpoint(step, lambda folder: torch.save(trainer.state(), folder / "state.pt"))
        if saved_to is not None and shown:
            samples = tuple(
                PictureSample(step, name, SAMPLE_SEED, trainer.draw(i), heard_clip(data.clips[i], kind)[None, :], base,
                              heard_clip(data.clips[i], kind)[None, :], heard_rate)
                for (i, name), base in zip(shown, base_pictures))
            yield PictureTrainingProgress(stage="sample", step=step, total=spec.num_steps, checkpoint=str(saved_to),
                                          message=f"{len(samples)} samples at step {step}", samples=samples)
    first_last = [float(np.mean(losses[:20])), float(np.mean(losses[-20:]))] if losses else None
    fixed = [before, trainer.evaluate()]
    encoder_id = portable_picture_model_id(encoder_folder) if encoder_folder is not None else adapter.config.clap_model
    facts = {
        "pairs": len(data.pictures), "base": spec.base, "base_revision": loaded.resolved.revision,
        "adapter": True, "audio_encoder": encoder_id, "loss_first_last": first_last, "loss_fixed_draws": fixed,
        "pairs_from_videos": from_videos, "skipped": [list(s) for s in data.skipped],
        "data": data.data, "videos": data.videos,
    }  # fmt: skip
    training = {"steps": spec.num_steps, "batch_size": spec.batch_size, "learning_rate": spec.learning_rate,
                "size": spec.size, "seed": seed, "pairs": len(data.pictures),
                "pairs_from_videos": from_videos, "loss_first_last": first_last,
                "loss_fixed_draws_before_after": fixed, "device": loaded.device.type,
                "dtype": str(loaded.dtype).removeprefix("torch.")}
    card = AdapterCard(
        title=f"Audio adapter trained on {Path(spec.pairs_dir).name}",
        description=(f"Trained for {spec.base} on {len(data.pictures)} (audio, picture) pairs for {spec.num_steps} "
                     f"steps at {spec.size} px; SD and the audio encoder frozen, the embedder trained."),
        base_model=_portable_base(spec.base), base_revision=loaded.resolved.revision, audio_encoder=encoder_id,
        trained_on=str(Path(spec.pairs_dir).resolve()), training=training,
    )
    trainer.adapter.embedder.to("cpu")
    out = save_adapter(trainer.adapter, spec.output_dir, card)
    return (TaskResult(recipe=spec.make_recipe(seed=seed, facts=facts), files=(out,)),)


def _portable_base(base: str) -> str:
    """A folder's absolute path (the adapter is used from anywhere), a hub id or builtin name as is."""
    folder = Path(base).expanduser()
    return str(folder.resolve()) if folder.is_dir() else base
