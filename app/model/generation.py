"""The generation settings every diffusion job shares, as a Qt-free model with change events.

    settings = GenerationSettings()
    settings.events.changed.connect(view._on_settings_changed)   # (name, value)
    settings.set(prompt="white noise", steps=20)
    spec = settings.generate_spec()

The prompt panel is one view of it (its widgets write into it and follow it); the edit tools
read the same values through :meth:`GenerationSettings.edit_kwargs` instead of reaching into the
panel's widgets. A job that needs other values only for itself (the Sound Classes browser's
64x400 size) passes them as overrides to :meth:`generate_spec`: nothing sticks.

Choosing a model applies what its card recommends (:meth:`apply_model_hints`): its
spectrogram preset, native length, steps, guidance and scheduler.
"""

from __future__ import annotations

from typing import Any

from app.model.events import Event, EventGroup
from engine.api import DEFAULT_SCHEDULER, DEFAULT_VOCODER, SCHEDULER_NAMES, GenerateJob, check_vocoder_name
from engine.audioset import OUTPUT_SIZES
from engine.models.catalog import ModelHints, model_hints
from engine.specs import MAX_SEED

#: Previews decoded about this many times per generation when live preview is on.
PREVIEWS_PER_JOB = 8
#: The output-size choice that keeps the model's own image height (the preset's mel rows).
NATIVE_SIZE = "native"
#: What a model without recommendations starts from (Riffusion-style SD checkpoints).
GENERIC_SETTINGS: dict[str, Any] = {
    "preset": "riffusion",
    "duration_s": 5.12,
    "steps": 30,
    "guidance": 7.0,
    "scheduler": DEFAULT_SCHEDULER,
    "upsampler": "",
}
#: Every field and its value in a new settings object.
DEFAULTS: dict[str, Any] = {
    "model": "",
    "prompt": "",
    "negative_prompt": "",
    "seed": None,  # int, or None for "not set"
    "seed_locked": False,
    "steps": GENERIC_SETTINGS["steps"],
    "guidance": GENERIC_SETTINGS["guidance"],
    "scheduler": GENERIC_SETTINGS["scheduler"],
    "duration_s": GENERIC_SETTINGS["duration_s"],
    "preset": GENERIC_SETTINGS["preset"],
    "size": NATIVE_SIZE,
    "variations": 1,
    "preview": False,
    "loras": (),  # ((path_or_id, weight), ...)
    "vocoder": DEFAULT_VOCODER,  # a vocoder name (engine.api.VOCODERS) or a vocoder folder
    "upsampler": "",  # run after inversion ("" none); the starter's card recommends builtin:upsampler
}
#: The fields the Settings dialog's defaults decide until the user picks them (use_defaults).
PICKABLE = frozenset({"vocoder", "upsampler"})
#: The fields a model's hints may set (field -> ModelHints attribute).
HINTED_FIELDS = {
    "preset": "spectrogram_preset",
    "duration_s": "duration_s",
    "steps": "num_inference_steps",
    "guidance": "guidance_scale",
    "scheduler": "scheduler",
    "upsampler": "upsampler",
}


#: The shipped upsampler (engine.upsample.models.DEFAULT_UPSAMPLER), for models that recommend none.
DEFAULT_UPSAMPLER = "builtin:upsampler"


def upsampler_for(settings: GenerationSettings) -> str:
    """The upsampler to switch on for ``settings``' model: the one its card recommends, else the
    shipped one."""
    hints = settings.hints
    return hints.upsampler if hints is not None and hints.upsampler else DEFAULT_UPSAMPLER


class GenerationEvents(EventGroup):
    """``changed(name, value)`` after a field changed; ``model_hints_applied(ModelHints | None)``
    after a model's recommendations were applied (None: the model recommends nothing)."""

    names = ("changed", "model_hints_applied")
    changed: Event
    model_hints_applied: Event


class GenerationSettings:
    """Model, prompt, negative prompt, seed, steps, guidance, scheduler, duration, spectrogram
    preset and output size, variations, preview, LoRAs and vocoder (see :data:`DEFAULTS`).

    Read fields as attributes (``settings.steps``); change them with :meth:`set`, which checks
    names and types and emits ``events.changed`` for each field whose value really changed.
    ``presets`` (optional) are the spectrogram presets a ``preset`` may name.
    """

    def __init__(self, presets: tuple[str, ...] | list[str] | None = None, **values: Any) -> None:
        self.events = GenerationEvents()
        self._presets = tuple(presets) if presets else None
        self._values: dict[str, Any] = dict(DEFAULTS)
        self._hinted: dict[str, Any] = {}
        self.hints: ModelHints | None = None
        #: The Settings dialog's defaults (:meth:`use_defaults`) and the fields they still decide.
        self._default_vocoder: str = DEFAULTS["vocoder"]
        self._full_band = True
        self._picked: set[str] = set()
        if values:
            self.set(**values)

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(name)

    def values(self) -> dict[str, Any]:
        """A copy of every field."""
        return dict(self._values)

    def set(self, **values: Any) -> None:
        """Change fields; raises ValueError naming a bad field or value (nothing changes then).
        A vocoder or upsampler changed here is the user's pick: the defaults no longer decide it."""
        self._assign(values, pick=True)

    def _assign(self, values: dict[str, Any], *, pick: bool) -> None:
        checked = {name: self._check(name, value) for name, value in values.items()}
        changed = [(n, v) for n, v in checked.items() if self._values[n] != v or type(self._values[n]) is not type(v)]
        for name, value in changed:
            self._values[name] = value
            if pick and name in PICKABLE:
                self._picked.add(name)
        for name, value in changed:
            self.events.changed.emit(name, value)

    def picked(self, name: str) -> bool:
        """Whether the user chose ``name`` (a :data:`PICKABLE` field) rather than a default."""
        return name in self._picked

    def picks(self) -> list[str]:
        """The :data:`PICKABLE` fields the user chose (saved with the prompt panel's state)."""
        return sorted(self._picked)

    def keep_picks(self, names: Any) -> None:
        """Only ``names`` count as the user's picks (a restored session's; anything else is ignored)."""
        self._picked = {n for n in names if n in PICKABLE} if isinstance(names, (list, tuple, set)) else set()

    def use_defaults(self, *, vocoder: str | None = None, full_band: bool | None = None) -> None:
        """The Settings dialog's defaults: the ``vocoder`` of every job, and whether the upsampler a
        model's card recommends runs (``full_band``; off: the Full band switch starts off). They
        decide the fields the user has not picked (:meth:`picked`), now and when a model's
        recommendations are applied. Raises ValueError for an unknown vocoder."""
        if vocoder is not None:
            check_vocoder_name(vocoder)
            self._default_vocoder = vocoder
            if not self.picked("vocoder"):
                self._assign({"vocoder": vocoder}, pick=False)
        if full_band is not None:
            self._full_band = bool(full_band)
            hints = self.hints if self.hints is not None else model_hints(self.model) if self.model.strip() else None
            recommended = hints.upsampler if hints is not None else None
            if recommended and not self.picked("upsampler"):
                value = recommended if self._full_band else ""
                self._assign({"upsampler": value}, pick=False)
                self._hinted["upsampler"] = value

    def _check(self, name: str, value: Any) -> Any:
        if name not in DEFAULTS:
            raise ValueError(f"unknown generation setting {name!r}; expected one of {', '.join(DEFAULTS)}.")
        if name == "vocoder":
            check_vocoder_name(value)  # ValueError naming the vocoders
            return value
        if name in ("model", "prompt", "negative_prompt", "scheduler", "preset", "size", "upsampler"):
            if not isinstance(value, str):
                raise ValueError(f"{name} must be text, got {value!r}.")
            if name == "scheduler" and value not in SCHEDULER_NAMES:
                raise ValueError(f"unknown scheduler {value!r}; expected one of {', '.join(SCHEDULER_NAMES)}.")
            if name == "preset" and self._presets is not None and value not in self._presets:
                raise ValueError(f"unknown spectrogram preset {value!r}; expected one of {', '.join(self._presets)}.")
            if name == "size" and value != NATIVE_SIZE and value not in OUTPUT_SIZES:
                raise ValueError(f"unknown output size {value!r}; expected {NATIVE_SIZE!r} or one of {', '.join(OUTPUT_SIZES)}.")
            return value
        if name == "seed":
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"the seed must be a whole number from 0, got {value!r}.")
            return value
        if name in ("seed_locked", "preview"):
            return bool(value)
        if name in ("steps", "variations"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number, got {value!r}.")
            return value
        if name in ("guidance", "duration_s"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}.")
            return float(value)
        # loras
        try:
            return tuple((str(p), float(w)) for p, w in value)
        except (TypeError, ValueError):
            raise ValueError(f"loras must be (path_or_id, weight) pairs, got {value!r}.") from None

    # -- models ------------------------------------------------------------------------------

    def apply_model_hints(self) -> ModelHints | None:
        """Preset the fields the chosen model recommends (its spectrogram preset, native length,
        steps, guidance, scheduler; the output size goes back to native), and remember them.

        A model that recommends nothing gets the general defaults back in the fields that still
        hold the previous model's recommendations (so the starter's 2.56 s 'starter' spectrogram
        does not stick to a Riffusion-style model); fields the user changed stay as they are.
        Unusable recommendations (an unknown preset) are skipped. Returns the hints."""
        hints = model_hints(self.model)
        if hints is not None:
            wanted = {name: getattr(hints, attr) for name, attr in HINTED_FIELDS.items()}
            wanted = {k: v for k, v in wanted.items() if v is not None}
            if hints.upsampler is None and self._hinted.get("upsampler") == self._values["upsampler"]:
                wanted["upsampler"] = ""  # the previous model's upsampler is not this one's
            if wanted.get("upsampler") and not self._full_band:
                wanted["upsampler"] = ""  # Settings: full band off by default (the switch stays)
            self.set(size=NATIVE_SIZE)
        else:
            wanted = {k: v for k, v in GENERIC_SETTINGS.items() if k in self._hinted and self._hinted[k] == self._values[k]}
        applied = {}
        for name, value in wanted.items():
            try:
                self._assign({name: value}, pick=False)
            except ValueError:
                continue
            applied[name] = self._values[name]
        self._hinted = applied if hints is not None else {}
        self.hints = hints
        self.events.model_hints_applied.emit(hints)
        return hints

    def set_output_size(self, name: str) -> None:
        """Choose an output size (:data:`NATIVE_SIZE` or an OUTPUT_SIZES key); a fixed size also
        sets the duration to its width under the current preset. Raises ValueError for an
        unknown name."""
        self.set(size=name)
        if name != NATIVE_SIZE:
            self.set(duration_s=duration_for_size(name, self.preset))

    # -- jobs --------------------------------------------------------------------------------

    def locked_seed(self) -> int | None:
        """The seed to use: the locked one, else None (the engine picks one). Raises ValueError
        for a seed out of range."""
        if not self.seed_locked:
            return None
        if self.seed is None:
            raise ValueError("The seed is locked but empty: type a seed or unlock it.")
        if self.seed > MAX_SEED:
            raise ValueError(f"The seed must be between 0 and {MAX_SEED}.")
        return self.seed

    def _checked_model(self) -> str:
        if not self.model.strip():
            raise ValueError("Pick a model (Generate > Model Manager) or type a repo id or folder.")
        return self.model.strip()

    def height(self, size: str | None = None) -> int | None:
        """Mel rows of the output size (None: the preset's own)."""
        name = self.size if size is None else size
        return None if name == NATIVE_SIZE else OUTPUT_SIZES[name][0]

    def generate_spec(self, **overrides: Any) -> GenerateJob:
        """The generate job these settings describe, with ``overrides`` (field names of
        this model) used for this job only. Raises ValueError saying what to fix."""
        if overrides:
            other = GenerationSettings(self._presets, **self._values)
            other.set(**overrides)
            return other.generate_spec()
        prompt = self.prompt.strip()
        if not prompt:
            raise ValueError("Type a prompt first.")
        return GenerateJob(
            **self.edit_kwargs(prompt),
            duration_s=self.duration_s,
            num_variations=self.variations,
            height=self.height(),
            preview_every=max(1, self.steps // PREVIEWS_PER_JOB) if self.preview else 0,
        )

    def edit_kwargs(self, prompt: str = "") -> dict[str, Any]:
        """The fields every edit job shares (GenerationJob's): ``prompt`` (empty: this model's
        prompt), negative prompt, seed, steps, guidance, scheduler, model, spectrogram preset,
        LoRAs, vocoder and upsampler (the "Full band" switch: every edit's new audio is upsampled
        as a generation is). Raises ValueError when no model is chosen or the seed is bad."""
        return {
            "prompt": prompt or self.prompt.strip(),
            "negative_prompt": self.negative_prompt.strip(),
            "seed": self.locked_seed(),
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance,
            "scheduler": self.scheduler,
            "model": self._checked_model(),
            "spectrogram_preset": self.preset,
            "loras": self.loras,
            "vocoder": self.vocoder,
            "upsampler": self.upsampler,
        }

    def apply_spec(self, spec: Any, *, duration_s: float | None = None, preset: str | None = None) -> None:
        """Take the fields a job spec or a recipe (any task, either recipe layout: flat fields or
        a ``params`` dict) shares with these settings; a set seed gets locked; fields it does
        not have stay. ``duration_s`` / ``preset`` fill what a recipe does not say."""
        params = getattr(spec, "params", None)

        def field_of(name: str) -> Any:
            if isinstance(params, dict) and name in params:
                return params[name]
            return getattr(spec, name, None)

        recipe_like = hasattr(spec, "model_id")
        found = {
            "prompt": field_of("prompt"),
            "negative_prompt": field_of("negative_prompt"),
            "steps": field_of("num_inference_steps"),
            "guidance": field_of("guidance_scale"),
            "scheduler": field_of("scheduler"),
            "model": spec.model_id if recipe_like else field_of("model"),
            "duration_s": duration_s if duration_s is not None else (None if recipe_like else field_of("duration_s")),
            "preset": preset or field_of("spectrogram_preset"),
            "loras": field_of("loras"),
            "vocoder": getattr(spec, "vocoder", None),
        }
        values = {k: v for k, v in found.items() if v is not None}
        values.update(seed=spec.seed, seed_locked=spec.seed is not None)
        if not recipe_like:
            height = field_of("height")
            values["size"] = next((name for name, (h, _w) in OUTPUT_SIZES.items() if h == height), NATIVE_SIZE)
        if values.get("scheduler") not in SCHEDULER_NAMES:
            values.pop("scheduler", None)
        if self._presets is not None and values.get("preset") not in self._presets:
            values.pop("preset", None)
        self.set(**values)


def duration_for_size(size: str, preset: str) -> float:
    """Seconds that make exactly output size ``size``'s width under spectrogram ``preset``.
    Raises ValueError for unknown names."""
    from engine.api import get_preset
    from engine.audioset import output_size_settings

    return float(output_size_settings(size, get_preset(preset))["duration_s"])
