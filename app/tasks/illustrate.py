"""Picture from Audio (issue 16): pictures of the selected clip, or of the selected time range in
it, into the project's gallery (the Pictures dock), as one undo step.

The model is the offline starter picture model (``builtin:pictures``, the default: it draws what
it hears as a diagram) or a picture model folder made by ``train-pictures``, an audio adapter
folder (``train-pictures`` on an SD base: the sound becomes words in its SD model's prompt), or,
when one is downloaded (or a local diffusers folder the store lists), an SD 1.5-family image model:
the clip's AudioSet tags make its prompt, blended with the words and style typed here (the
zero-shot path; only there is the Tagger field used). Picture ``i`` of N
uses seed ``seed + i`` (a random seed when the field is empty); every picture keeps its recipe,
so the gallery regenerates it bit for bit. The job runs on the engine worker: the Edit dock
shows its progress and cancels it, like every edit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton

from app.tasks import AppTask, EditError, Plan, TaskForm
from app.tasks._common import audible, prompt_edit, read_seed, seed_edit
from app.widgets.lora_wizard_runs import is_picture_model
from app.widgets.model_combo import combo_model_id, show_model
from app.widgets.spin_boxes import DoubleSpinBox, SpinBox

#: The shortest sound a picture model hears (engine.pictures.model.MIN_DURATION_S): a shorter
#: selection is refused here, before any job starts, with a message that names the selection.
MIN_PICTURE_S = 0.25
DEFAULT_VARIATIONS = 4
DEFAULT_STEPS = 50
#: What marks an audio adapter folder (engine.pictures.illustrate.ADAPTER_CONFIG_FILE; the app
#: reaches the engine through engine.api).
ADAPTER_FILE = "audio_adapter.json"
TAGGER_TIP = ("The AudioSet tagger whose tags make an image model's prompt (a hub id in the Hugging Face "
              "cache, or a folder)")
#: Why the Tagger field is greyed, by the kind of model chosen (see :func:`model_kind`).
NO_TAGGER = {"picture": "a picture model hears the sound itself",
             "adapter": "an audio adapter hears the sound itself (its own audio encoder)"}


def model_kind(model_id: str) -> str:
    """"picture" (the starter or a ``train-pictures`` folder: draws from the sound), "adapter" (an
    audio adapter folder: the sound becomes words in its SD model's prompt) or "sd" (an image model
    drawing zero-shot from the clip's tags). Looks for a file."""
    if not model_id or is_picture_model(model_id):
        return "picture"
    return "adapter" if (Path(model_id).expanduser() / ADAPTER_FILE).is_file() else "sd"


def adapter_base(folder: str) -> str:
    """The SD model the audio adapter in ``folder`` was trained for (its card's), '' if unreadable."""
    try:
        card = json.loads((Path(folder).expanduser() / ADAPTER_FILE).read_text(encoding="utf-8")).get("card") or {}
    except (OSError, ValueError, AttributeError):
        return ""
    return str(card.get("base_model") or "")


def _text_to_image_folder(folder: str) -> bool:
    """A diffusers folder of a text-to-image SD pipeline (not an inpainting one), by its model_index.json."""
    try:
        index = json.loads((Path(folder) / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(index, dict) and index.get("_class_name") == "StableDiffusionPipeline"


def image_models(listing: Any) -> list[tuple[str, str]]:
    """(model id, label) of the image models in ``listing`` (an :class:`app.engine_client.ModelListing`)
    that draw pictures zero-shot: the downloaded ones whose tasks name ``illustrate``, and the local
    diffusers SD folders it lists (a local folder's entry names no tasks: its model_index.json says).
    The Picture tab's image models, and the picture wizard's SD bases."""
    return [(e.model_id, e.label) for e in getattr(listing, "entries", ())
            if e.downloaded and ("illustrate" in e.tasks
                                 or (e.source == "local" and e.is_pipeline and _text_to_image_folder(e.model_id)))]


def job_defaults() -> dict[str, Any]:
    """The illustrate job's field defaults (its model: the offline starter picture model; its
    tagger and style), from the engine's spec."""
    from dataclasses import MISSING, fields

    from engine.api import task

    return {f.name: f.default for f in fields(task("illustrate").spec) if f.default is not MISSING}


class Form(TaskForm):
    def __init__(self) -> None:
        self.defaults = job_defaults()
        self.starter = self.defaults["model"]
        self.model = QComboBox(editable=True, toolTip=(
            "builtin:pictures (offline, ships with the app: draws what it hears as a diagram), a folder made "
            "by train-pictures, or a downloaded SD 1.5-family image model (zero-shot: the clip's sound tags "
            "make the prompt)"))
        self.model.addItem("Starter picture model (offline)", self.starter)
        self.prompt = prompt_edit("Your words, blended with the clip's sound tags (image models only)",
                                  "Your words (image models only)", "Your words")
        self.style = prompt_edit(f"Style words (image models only); empty: {self.defaults['style']}",
                                 "Style words (image models only)", "Style words")
        self.variations = SpinBox(minimum=1, maximum=16, value=DEFAULT_VARIATIONS,
                                   toolTip="How many pictures: seeds SEED, SEED+1, ...")
        self.seed = seed_edit("Empty: random")
        self.steps = SpinBox(minimum=1, maximum=500, value=DEFAULT_STEPS, toolTip="Denoising steps per picture")
        self.tagger = QLineEdit(toolTip=TAGGER_TIP)
        self.tagger.setPlaceholderText("Empty: " + self.defaults["tagger"])
        self.size = SpinBox(minimum=64, maximum=1024, singleStep=64, value=512, suffix=" px",
                             toolTip="Width and height of an image model's pictures, a multiple of 8 (the starter "
                                     "picture model draws 64 px)")
        self.size.set_multiple_of(8)  # SD's: a typed 100 is used as 104, and said
        self.guidance = DoubleSpinBox(minimum=0.0, maximum=50.0, singleStep=0.5, decimals=1, value=0.0,
                                       specialValueText="model's",
                                       toolTip="Guidance scale: 'model's' is 3 for a picture model, 7.5 for an image model")
        self.train = QPushButton("Train a picture model…", toolTip=(
            "Fine-tune a picture model on your own (sound, picture) pairs or videos; the result is chosen here"))
        self.train.clicked.connect(self.open_training)
        self.wizard: Any = None
        self.offered_base = ""  # the base the wizard was last given from this tab
        self.rows = [("Model", self.model), ("", self.train), ("Words", self.prompt), ("Style", self.style), ("Tagger", self.tagger),
                     ("Size", self.size), ("Pictures", self.variations), ("Seed", self.seed), ("Steps", self.steps),
                     ("Guidance", self.guidance)]
        self.model.currentTextChanged.connect(lambda *_: self._follow_model())
        self._follow_model()

    def _follow_model(self) -> None:
        # Words, style and size mean something to an SD model (zero-shot or through an audio adapter);
        # the tagger only to the zero-shot path, which makes the prompt from its tags.
        kind = model_kind(combo_model_id(self.model) or self.starter)
        for widget in (self.prompt, self.style, self.size):
            widget.setEnabled(kind != "picture")
        self.tagger.setEnabled(kind == "sd")
        self.tagger.setToolTip(TAGGER_TIP if kind == "sd" else
                               f"{TAGGER_TIP}. Greyed: {NO_TAGGER[kind]}; only an image model drawing zero-shot "
                               "from the clip's sound tags uses a tagger")

    def training_base(self) -> str:
        """The base this tab's model gives the wizard: a picture model itself, an SD model itself (an
        audio adapter for it is trained), an audio adapter its SD model; else the starter."""
        chosen = combo_model_id(self.model) or self.starter
        kind = model_kind(chosen)
        return (adapter_base(chosen) or self.starter) if kind == "adapter" else chosen

    def open_training(self) -> Any:
        """The Train a Picture Model wizard (one per form; a run keeps going while it is hidden),
        over the window's engine client; the model it trains becomes this tab's model."""
        from app.widgets.picture_wizard import PictureWizard

        if self.wizard is None:
            window = self.train.window()
            self.wizard = PictureWizard(window.client, use_model=lambda path: show_model(self.model, path),
                                        settings=getattr(window, "settings", None), parent=window)
        base = self.training_base()
        monitor = self.wizard.monitor_page  # a run being watched keeps its base
        watching = self.wizard.currentPage() is monitor and monitor.handle is not None and not monitor.handle.is_done
        if base != self.offered_base and not watching:  # the tab's model, chosen since the wizard last opened
            self.wizard.set_base(base)
            self.offered_base = base
        self.wizard.show()
        self.wizard.raise_()
        return self.wizard

    def set_models(self, listing: Any) -> None:
        """List the starter picture model and the image models that draw pictures (the store's,
        ``listing``: an :class:`app.engine_client.ModelListing`; see :func:`image_models`); keeps the choice."""
        chosen = combo_model_id(self.model)
        self.model.blockSignals(True)
        try:
            self.model.clear()
            self.model.addItem("Starter picture model (offline)", self.starter)
            for model_id, label in image_models(listing):
                self.model.addItem(f"{label} (zero-shot)", model_id)
        finally:
            self.model.blockSignals(False)
        show_model(self.model, chosen or self.starter)

    def params(self) -> dict[str, Any]:
        guidance = self.guidance.value()
        model = combo_model_id(self.model) or self.starter
        kind = model_kind(model)
        return {
            "model": model,
            "prompt": self.prompt.text().strip() if kind != "picture" else "",
            "style": self.style.text().strip() if kind != "picture" else "",
            "tagger": self.tagger.text().strip() if kind == "sd" else "",
            "width": self.size.value(),
            "height": self.size.value(),
            "num_variations": self.variations.value(),
            "seed": read_seed(self.seed, "Seed"),
            "num_inference_steps": self.steps.value(),
            "guidance_scale": guidance if guidance > 0 else None,
        }


def plan(tools: Any, params: dict[str, Any]) -> Plan:
    from app.model.pictures import AddPictures, Picture

    clip = tools.target_clip()
    span = tools.selection_in_clip(clip)
    rate = clip.sample_rate_hz
    if span is not None:
        first, stop = int(round(span[0] * rate)), int(round(span[1] * rate))
        audio, what = clip.audio[:, first:stop], "The selection"
    else:
        audio, what = audible(clip), f"Clip {clip.name!r}"
    seconds = audio.shape[1] / rate
    if seconds < MIN_PICTURE_S:
        raise EditError(f"{what} is {seconds:.2f} s long; a picture needs at least {MIN_PICTURE_S:g} s of sound.")
    values = {k: v for k, v in params.items() if k not in ("style", "tagger") or v}  # empty: the engine's default

    def build() -> Any:
        from engine.api import task

        return task("illustrate").spec(audio=audio, sample_rate_hz=rate, **values)

    def land(job_id: int, results: list[Any]) -> list[str]:
        pictures = []
        for result in results:
            for image in result.pictures or ():
                seed = result.recipe.seed if result.recipe is not None else None
                name = f"{clip.name} · seed {seed}" if seed is not None else clip.name
                pictures.append(Picture(name=name[:200], clip_id=clip.id, image=image.convert("RGB"),
                                        recipe=result.recipe))
        if not pictures:
            raise ValueError("the engine returned no picture")
        source = f"the selection of {clip.name!r}" if span is not None else repr(clip.name)
        tools.undo_stack.push_command(AddPictures(tools.project, pictures, text=f"Pictures from {source}"))
        gallery = getattr(tools.window, "gallery", None)
        if gallery is not None:
            gallery.reveal([p.id for p in pictures])
        return [clip.id] if tools.project.has_clip(clip.id) else []

    # clip_id None: pictures do not change the clip, so one edited meanwhile still gets them.
    return Plan("illustrate", None, clip.audio, (clip.offset_s, clip.duration_s), build, land,
                extra={"start_s": clip.start_s, "name": clip.name})


TASK = AppTask(
    name="illustrate",
    title="Picture",
    action_text="&Picture from Audio",
    shortcut="Ctrl+Alt+P",
    button="Make pictures",
    help=("Pictures of the selected clip (or the selected time range): the offline starter picture model "
          "draws what it hears; a downloaded image model paints the clip's sound tags and your words. "
          "They go to the Pictures dock with their recipes."),
    engine_task="illustrate",
    make_form=Form,
    plan=plan,
    menu="generate",
    order=55,
)
