"""Train a picture model (issue 16 part 2): a wizard from a folder of (sound, picture) pairs and/or
videos to a picture model that Generate > Picture from Audio can use.

Pages: **Your pairs** (the base model, the folder, how often a video gives a frame; "Read the
folder" sorts it on a helper thread, as training will, and lists what is skipped and why),
**Training** (steps, batch, learning rate, seed, checkpoints, the output folder) and **Training
run**: the LoRA wizard's monitoring page (:class:`app.widgets.lora_wizard.MonitorPage`: the loss
curve, at each checkpoint the pictures the model draws for a few training sounds beside the base
model's, each plays its sound, pause/resume/cancel, resume from the last checkpoint). A run the
app's closing cut short is offered at the top of the first page when the wizard opens again
(resume, discard or later: :mod:`app.widgets.lora_wizard_runs`); "Train" in the folder of an
unfinished run asks first (Resume that run, Start over, which deletes its checkpoints, or Cancel).

The base is a picture model (the starter, or a ``train-pictures`` folder) or a downloaded SD
1.5-family image model: the same list as the Picture tab's image models (the store's listing,
made off the GUI thread), or a typed hub id or folder. An SD base trains an AudioToken-style audio
adapter for it instead (:mod:`engine.pictures.adapter`), and the first page then shows the
adapter's settings: picture size, pseudo-words per sound, the prompt template (``<audio>`` where the
sound goes; one without it is refused there, before anything starts) and the audio encoder (the
starter picture model's, or a CLAP model from the cache).

The run is the engine's ``train_pictures`` job submitted through
:class:`app.engine_client.EngineClient`; the worker cuts the videos and trains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.tasks.illustrate import image_models
from app.widgets.lora_wizard import LoraWizard, MonitorPage
from app.widgets.lora_wizard_runs import RunOffers, is_picture_model
from app.widgets.model_combo import combo_model_id, make_editable, show_model
from app.widgets.screen_fit import resize_within_screen
from app.widgets.spin_boxes import DoubleSpinBox, SpinBox
from engine.api import task

__all__ = ["PictureWizard", "clap_models", "image_models"]

STARTER = "builtin:pictures"
#: Where the sound goes in an adapter's prompt (engine.pictures.illustrate.ADAPTER_PLACEHOLDER; the
#: app reaches the engine through engine.api) and the template the task starts from.
ADAPTER_PLACEHOLDER = "<audio>"
ADAPTER_TEMPLATE = task("train_pictures").spec.template
ADAPTER_SIZE = task("train_pictures").spec.size  # SD 1.5's own, 512
#: (steps, pairs per step, learning rate) the Training page starts from for each kind of run; an
#: adapter (SD 1.5 at 512 px, one pair a step fits an 8 GB card) as the README's command.
DEFAULTS = {"picture": (500, 8, 5e-4), "adapter": (500, 1, 1e-4)}
#: Seconds of sound an audio encoder hears (engine.pictures.model.WINDOW_S; engine.pictures.adapter.
#: CLAP_WINDOW_S; not imported: torch): a video's frame gets that much sound around it.
HEARD_S = {"picture": 2.56, "clap": 10.0}
GPU_NOTE = "An SD base needs a GPU in practice: it runs on the CPU, but slowly (use a small picture size there)."


def clap_models(listing: Any) -> list[str]:
    """The CLAP models in the Hugging Face cache (``listing``'s downloaded non-pipelines named CLAP)."""
    return [e.model_id for e in getattr(listing, "entries", ())
            if e.downloaded and not e.is_pipeline and "clap" in e.model_id.lower()]


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _folder_row(parent: QWidget, edit: QLineEdit, title: str) -> QHBoxLayout:
    """``edit`` with a Browse… button that fills it from a folder dialog."""

    def choose() -> None:
        folder = QFileDialog.getExistingDirectory(parent, title, edit.text())
        if folder:
            edit.setText(folder)

    browse = QPushButton("Browse…")
    browse.clicked.connect(choose)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row


def _model_combo(starter_label: str, tooltip: str) -> QComboBox:
    """An editable model list (a typed id or folder counts) starting with the starter picture model."""
    combo = QComboBox()
    make_editable(combo)
    combo.addItem(starter_label, STARTER)
    combo.setToolTip(tooltip)
    return combo


class PairsPage(QWizardPage):
    """The base model, the folder of pairs and/or videos, the frame interval; reads the folder."""

    def __init__(self, wizard: PictureWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Your pairs")
        self.found: Any = None
        self.model_combo = _model_combo("Starter picture model (offline)", (
            "A picture model to start from (its audio encoder stays as it is, its projection and diffusion model "
            "learn your pairs; type a train-pictures folder), or a downloaded SD 1.5-family image model (type its "
            "hub id or folder): then an audio adapter for it is trained and SD stays frozen. " + GPU_NOTE))
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a folder of sound + picture pairs and/or videos")
        folder_row = _folder_row(self, self.folder_edit, "Folder of pairs or videos")
        self.every_spin = DoubleSpinBox(decimals=2, minimum=0.04, maximum=3600.0, value=1.0, suffix=" s")
        self.read_button = QPushButton("Read the folder")
        self.read_button.clicked.connect(self.read_folder)
        self.summary_label = QLabel("Choose a folder, then read it.")
        self.summary_label.setWordWrap(True)
        self.skipped_list = QListWidget()
        self.skipped_list.setMaximumHeight(110)
        self.skipped_list.hide()
        self.adapter_box = self._adapter_box()
        form = QFormLayout()
        form.addRow("Base model", self.model_combo)
        form.addRow("Folder", folder_row)
        form.addRow("Frame every", self.every_spin)
        read_row = QHBoxLayout()
        read_row.addWidget(self.read_button)
        read_row.addWidget(self.summary_label, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.adapter_box)
        layout.addLayout(read_row)
        layout.addWidget(self.skipped_list)
        layout.addStretch(1)
        self.folder_edit.textChanged.connect(self._invalidate)
        self.model_combo.currentTextChanged.connect(self._follow_model)
        self._follow_model()

    def _adapter_box(self) -> QGroupBox:
        """The adapter's settings (shown for an SD base): size, tokens, template, audio encoder."""
        box = QGroupBox("Audio adapter for the SD model (SD stays frozen; a small embedder learns)")
        box.setToolTip("The sound becomes pseudo-words in the SD model's text space (AudioToken): only a small "
                       "embedder (about 0.5 M parameters) is trained. " + GPU_NOTE)
        self.size_spin = SpinBox(minimum=64, maximum=1024, singleStep=64, value=ADAPTER_SIZE, suffix=" px")
        self.size_spin.set_multiple_of(8)  # SD's: a typed 100 is used as 104, and said
        self.size_spin.setToolTip("Width and height the pictures are trained at (a multiple of 8: another is used at the "
                                  "nearest, and said): 512 is SD 1.5's own; smaller trains much faster, what a CPU can manage")
        self.tokens_spin = SpinBox(minimum=1, maximum=8, value=1)
        self.tokens_spin.setToolTip("How many pseudo-words each sound becomes in the prompt (1-8): more can "
                                    "carry more of the sound, and take more pairs to learn")
        self.template_edit = QLineEdit(ADAPTER_TEMPLATE)
        self.template_edit.setToolTip(f"The prompt the adapter is trained on: {ADAPTER_PLACEHOLDER} is where the "
                                      "sound's pseudo-words go. When drawing, your words follow it (or, holding "
                                      f"{ADAPTER_PLACEHOLDER}, replace it)")
        self.encoder_combo = _model_combo("Starter picture model's encoder (offline)", (
            "What hears the sounds (frozen): the starter picture model's audio encoder (offline; knows "
            "instruments, drums and effects, on the loudest 2.56 s), or CLAP's audio tower from the Hugging Face "
            "cache (laion/clap-htsat-unfused; knows any sound, on the loudest 10 s). Or type a picture model or "
            "CLAP folder"))
        self.template_error = QLabel()
        self.template_error.setWordWrap(True)
        self.template_error.setStyleSheet("color: #ff6b6b;")
        self.template_error.hide()
        note = QLabel(GPU_NOTE)
        note.setWordWrap(True)
        form = QFormLayout(box)
        for label, widget in (("Picture size", self.size_spin), ("Words per sound", self.tokens_spin),
                              ("Prompt template", self.template_edit), ("", self.template_error),
                              ("Audio encoder", self.encoder_combo)):
            form.addRow(label, widget)
        form.addRow(note)
        self.template_edit.textChanged.connect(self._check_template)
        self.encoder_combo.currentTextChanged.connect(self._follow_model)
        return box

    def is_adapter(self) -> bool:
        """An SD base (not a picture model) is chosen: the run trains an audio adapter."""
        return not is_picture_model(self.model_id())

    def heard_s(self) -> float:
        """How many seconds of sound around a video's frame make its pair: what the audio encoder hears
        (a picture model's 2.56 s, CLAP's 10 s for an adapter on CLAP)."""
        clap = self.is_adapter() and not is_picture_model(combo_model_id(self.encoder_combo) or STARTER)
        return HEARD_S["clap" if clap else "picture"]

    def _follow_model(self, *_args: Any) -> None:
        adapter = self.is_adapter()
        self.adapter_box.setVisible(adapter)
        heard = f"{self.heard_s():g} s"
        self.setSubTitle("A folder of sounds each beside a picture of the same name (rain.wav + rain.png), "
                         "and/or of videos (mp4, mkv, webm, mov, avi): a frame every few seconds, with the "
                         f"{heard} of sound around it, becomes a pair."
                         + (" The chosen base is an SD model: an audio adapter for it is trained." if adapter else ""))
        self.every_spin.setToolTip(f"Videos: a frame, with the {heard} of sound around it (what the audio encoder "
                                   "hears), every this many seconds")
        self.w.base_kind_changed.emit("adapter" if adapter else "picture")
        self.completeChanged.emit()

    def template_problem(self) -> str:
        """Why the prompt template cannot be used ('' when it can)."""
        text = self.template_edit.text().strip()
        if ADAPTER_PLACEHOLDER not in text:
            return (f"The prompt template needs {ADAPTER_PLACEHOLDER} where the sound goes, for example "
                    f"'{ADAPTER_TEMPLATE}'.")
        return ""

    def _check_template(self, *_args: Any) -> None:
        problem = self.template_problem()
        self.template_error.setText(problem)
        self.template_error.setVisible(bool(problem))
        self.completeChanged.emit()

    def set_models(self, listing: Any) -> None:
        """List the starter, and the downloaded image models of ``listing`` (SD bases: an adapter is
        trained); the encoder list gets the cached CLAP models. Keeps the choices."""
        for combo, items in ((self.model_combo, [(STARTER, "Starter picture model (offline)"),
                                                 *((m, f"{label} (audio adapter)") for m, label in image_models(listing))]),
                             (self.encoder_combo, [(STARTER, "Starter picture model's encoder (offline)"),
                                                   *((m, f"CLAP: {m} (from the cache)") for m in clap_models(listing))])):
            chosen = combo_model_id(combo) or STARTER
            combo.blockSignals(True)
            try:
                combo.clear()
                for model_id, label in items:
                    combo.addItem(label, model_id)
            finally:
                combo.blockSignals(False)
            show_model(combo, chosen)
        self._follow_model()

    def _invalidate(self, *_args: Any) -> None:
        self.found = None
        self.summary_label.setText("Read the folder to see what training will use.")
        self.skipped_list.clear()
        self.skipped_list.hide()
        self.completeChanged.emit()

    def read_folder(self) -> None:
        """Sort the folder (pairs, videos, skipped files) on a helper thread, as the run will."""
        from engine.pictures.training import scan_folder

        folder = self.folder_edit.text().strip()
        self.read_button.setEnabled(False)
        self.summary_label.setText("Reading…")

        def failed(error: BaseException) -> None:
            self.read_button.setEnabled(True)
            self.summary_label.setText(str(error).splitlines()[0] if str(error) else type(error).__name__)
            self.w.folder_read.emit(None)

        self.w.client.run_in_thread("picture-pairs", lambda: scan_folder(folder), self._on_read, failed)

    def _on_read(self, found: Any) -> None:
        self.read_button.setEnabled(True)
        self.found = found
        parts = [_count(len(found.pairs), "pair"), _count(len(found.videos), "video")]
        if found.skipped:
            parts.append(_count(len(found.skipped), "file") + " skipped")
        self.summary_label.setText(", ".join(parts) + (" (videos are cut into pairs when training starts)"
                                                       if found.videos else ""))
        self.skipped_list.clear()
        for name, why in found.skipped:
            self.skipped_list.addItem(f"Skipped {name}: {why}")
        self.skipped_list.setVisible(bool(found.skipped))
        self.completeChanged.emit()
        self.w.folder_read.emit(found)

    def model_id(self) -> str:
        return combo_model_id(self.model_combo) or STARTER

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.found is not None and not (self.is_adapter() and self.template_problem())

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name ("Next")
        return not (self.is_adapter() and self.template_problem())


class SettingsPage(QWizardPage):
    """Steps, batch, learning rate, seed, checkpoints and the output folder."""

    def __init__(self, wizard: PictureWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Training")
        self.kind = "picture"
        steps, batch, lr = DEFAULTS[self.kind]
        self.steps_spin = SpinBox(minimum=1, maximum=1_000_000, value=steps)
        self.batch_spin = SpinBox(minimum=1, maximum=256, value=batch)
        self.lr_spin = DoubleSpinBox(decimals=6, minimum=1e-6, maximum=0.1, singleStep=1e-4, value=lr)
        self.seed_spin = SpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.checkpoint_spin = SpinBox(minimum=0, maximum=1_000_000, value=50, specialValueText="never")
        self.checkpoint_spin.setToolTip("Save a checkpoint (and draw samples) every this many steps")
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("the folder the picture model goes into")
        output_row = _folder_row(self, self.output_edit, "Output folder")
        form = QFormLayout(self)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Pairs per step", self.batch_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Checkpoint every", self.checkpoint_spin)
        self.output_edit.setToolTip("The folder the picture model (or the audio adapter, for an SD base) goes "
                                    "into, with its checkpoints while it trains")
        form.addRow("Output folder", output_row)
        self.output_edit.textChanged.connect(lambda *_: self.completeChanged.emit())
        self.set_kind("picture")

    def set_kind(self, kind: str) -> None:
        """Follow the base's kind ("picture" or "adapter"): the subtitle, and the steps, batch and
        learning rate where they still hold the other kind's defaults (a user's own values stay)."""
        if kind != self.kind:
            fields = (self.steps_spin, self.batch_spin, self.lr_spin)
            for spin, old, new in zip(fields, DEFAULTS[self.kind], DEFAULTS[kind]):
                if spin.value() == old:
                    spin.setValue(new)
            self.kind = kind
        self.setSubTitle(
            "SD stays frozen and only the adapter's embedder learns, but every step runs SD's UNet and text "
            "encoder: on a GPU a step at 512 px takes well under a second, on the CPU many seconds. Checkpoints also "
            "draw samples to watch, and a stopped run goes on from the last one." if kind == "adapter" else
            "On the CPU the starter-sized model takes about a second a step; checkpoints also "
            "draw samples to watch, and a stopped run goes on from the last one.")

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        pairs = Path(self.w.pairs_page.folder_edit.text().strip() or "pictures")
        names = {kind: str(pairs.parent / f"{pairs.name}-{kind}") for kind in ("picture-model", "audio-adapter")}
        if self.output_edit.text().strip() in ("", *names.values()):  # empty, or the other kind's name
            self.output_edit.setText(names["audio-adapter" if self.kind == "adapter" else "picture-model"])

    def isComplete(self) -> bool:  # noqa: N802
        return bool(self.output_edit.text().strip())

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name ("Train")
        return self.w.confirm_start()


class PictureMonitorPage(MonitorPage):
    """The LoRA wizard's monitoring page, its samples named for pictures."""

    def __init__(self, wizard: PictureWizard) -> None:
        super().__init__(wizard)  # type: ignore[arg-type]
        self.samples_box.setTitle("Samples: the pictures it draws for training sounds (click one to hear the sound)")
        self.apply_button.setText("Use it for Picture from Audio")

    def show_samples(self, samples: Any, thumbnails: Any) -> None:
        super().show_samples(samples, thumbnails)
        # An adapter's "base" pictures are its untrained start's (the template with the word 'sound').
        adapter = bool(self.w.job is not None and not is_picture_model(self.w.job.base))
        names = {"with the LoRA": "being trained", **({"base model": "before training"} if adapter else {})}
        for i in range(self.samples_grid.count()):
            widget = self.samples_grid.itemAt(i).widget()
            if isinstance(widget, QLabel) and widget.text() in names:
                widget.setText(names[widget.text()])
            elif isinstance(widget, QPushButton):
                widget.setToolTip(widget.toolTip().replace("Play '", "Hear '").replace("with the LoRA", "(being trained)")
                                  .replace("base model", "(before training)" if adapter else "base model"))


class PictureWizard(QWizard):
    """Train a picture model on the engine.

    ``client``: the app's EngineClient; ``use_model(path)``: called by "Use it for Picture from
    Audio" (e.g. set the Picture tab's model); ``player``: an engine Player for the samples' sounds
    (one is made when first needed); ``settings``: the AppSettings that remember an unfinished run
    across restarts. ``picture_model_trained(str)`` when a run wrote its folder;
    ``folder_read(TrainingFolder or None)`` after "Read the folder".
    """

    picture_model_trained = Signal(str)
    folder_read = Signal(object)
    run_started = Signal(object)
    base_kind_changed = Signal(str)  # "picture" or "adapter" (an SD base)

    run_kind = "pictures"

    def __init__(self, client: Any, *, use_model: Any = None, player: Any = None, settings: Any = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train a Picture Model")
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.client = client
        self.use_model = use_model
        self.player = player
        self.app_settings = settings
        self.job: Any = None
        self._resume_pending = False  # read by MonitorPage
        self._start_confirmed = False  # read by confirm_start
        self.start_over_box: Any = None
        self.pairs_page = PairsPage(self)
        self.dataset_page = self.pairs_page  # LoraWizard.play notes a failure on its summary label
        self.settings_page = SettingsPage(self)
        self.monitor_page = PictureMonitorPage(self)
        self.addPage(self.pairs_page)
        self.addPage(self.settings_page)
        self.monitor_id = self.addPage(self.monitor_page)
        self.settings_page.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Train")
        resize_within_screen(self, 760, 680)
        self.run_offers = RunOffers(self, (self.run_kind,), self.pairs_page, self.resume_run)
        self.base_kind_changed.connect(self.settings_page.set_kind)
        self.pairs_page._follow_model()
        # The SD bases: the store's listing, as the Picture tab's (the window's last one, else one made
        # off the GUI thread); a later listing (a download) updates the lists.
        client.models_listed.connect(self.set_models)
        listing = getattr(parent, "model_listing", None)
        if listing is not None:
            self.set_models(listing)
        elif getattr(client, "store", None) is not None:
            from app.engine_client import list_models

            store, folders = client.store, tuple(getattr(settings, "local_model_folders", None) or ())
            client.run_in_thread("picture-bases", lambda: list_models(store, folders), self.set_models,
                                 lambda error: self.pairs_page.summary_label.setText(f"Cannot list the models: {error}"),
                                 essential=False)

    def set_models(self, listing: Any) -> None:
        """The base models (and CLAP encoders) from the store's ``listing``: a ModelListing."""
        if shiboken6.isValid(self.pairs_page):  # a listing may arrive after the wizard went
            self.pairs_page.set_models(listing)

    def set_base(self, model: str) -> None:
        show_model(self.pairs_page.model_combo, model)

    # -- the run (what MonitorPage calls) -------------------------------------------------------

    def make_job(self, *, resume: bool = False) -> Any:
        page, pairs = self.settings_page, self.pairs_page
        adapter = {}
        if pairs.is_adapter():  # an SD base: the adapter's settings (a picture model's run leaves the defaults)
            adapter = dict(size=pairs.size_spin.value() // 8 * 8, tokens=pairs.tokens_spin.value(),
                           template=pairs.template_edit.text().strip(),
                           audio_encoder=combo_model_id(pairs.encoder_combo) or STARTER)
        return task("train_pictures").spec(
            pairs_dir=pairs.folder_edit.text().strip(), output_dir=page.output_edit.text().strip(),
            base=pairs.model_id(), num_steps=page.steps_spin.value(), batch_size=page.batch_spin.value(),
            learning_rate=page.lr_spin.value(), seed=page.seed_spin.value(),
            checkpoint_every=min(page.checkpoint_spin.value(), page.steps_spin.value()),
            frame_every_s=pairs.every_spin.value(), resume=resume, **adapter)

    # The run's plumbing is the LoRA wizard's own (its MonitorPage calls these): the same
    # functions, not copies. They use make_job, job, monitor_page, run_started, _remember_run,
    # client, player and dataset_page.summary_label, which this wizard has too.
    start = LoraWizard.start
    pause_job = LoraWizard.pause_job
    resume_job = LoraWizard.resume_job
    has_checkpoint = LoraWizard.has_checkpoint
    play = LoraWizard.play
    # An unfinished run is offered after a restart, as the LoRA wizard's are (the same functions).
    _remember_run = LoraWizard._remember_run
    _forget_run = LoraWizard._forget_run
    resume_on_monitor = LoraWizard.resume_on_monitor
    # A new run where an unfinished one left its checkpoints asks first (Resume, Start over, Cancel).
    confirm_start = LoraWizard.confirm_start
    _on_start_over = LoraWizard._on_start_over
    resume_unfinished = LoraWizard.resume_unfinished

    def resume_run(self, run: Any) -> None:
        """Go on with the unfinished ``run``: the pages show the settings it was started with and the
        monitoring page resumes it from its checkpoint."""
        self.run_offers.hide_offer(run.output_dir)  # however it was chosen (here, or the notice at startup)
        job = run.job
        self.set_base(job.base)
        pairs = self.pairs_page
        pairs.folder_edit.setText(job.pairs_dir)
        pairs.every_spin.setValue(job.frame_every_s)
        pairs.size_spin.setValue(job.size)
        pairs.tokens_spin.setValue(job.tokens)
        pairs.template_edit.setText(job.template)
        show_model(pairs.encoder_combo, job.audio_encoder)
        page = self.settings_page
        page.steps_spin.setValue(job.num_steps)
        page.batch_spin.setValue(job.batch_size)
        page.lr_spin.setValue(job.learning_rate)
        page.seed_spin.setValue(job.seed or 0)
        page.checkpoint_spin.setValue(job.checkpoint_every)
        page.output_edit.setText(job.output_dir)
        self.job = job
        self.resume_on_monitor()

    def on_trained(self, result: Any) -> None:
        page = self.monitor_page
        (first,) = result[:1]
        facts = first.recipe.facts
        folder = str(first.files[0])
        losses = facts.get("loss_first_last") or [float("nan")] * 2
        skipped = facts.get("skipped") or []
        page.entry = folder  # the page is complete once something was trained
        what = f" an audio adapter for {facts.get('base')}" if facts.get("adapter") else ""
        page.status_label.setText(
            f"Done: trained{what} on {facts.get('pairs')} pairs ({facts.get('pairs_from_videos', 0)} from videos), "
            f"loss {losses[0]:.4f} -> {losses[1]:.4f}" + (f", {_count(len(skipped), 'file')} skipped" if skipped else "")
            + f". Saved to {folder}.")
        page.apply_button.setVisible(self.use_model is not None)
        page.apply_button.setEnabled(True)
        page.completeChanged.emit()
        self._forget_run()
        self.picture_model_trained.emit(folder)

    def apply_trained(self) -> bool:
        """Hand the new model to ``use_model`` (Picture from Audio's model)."""
        if self.monitor_page.entry is None or self.use_model is None:
            return False
        self.use_model(self.monitor_page.entry)
        self.monitor_page.apply_button.setEnabled(False)
        return True

    def showEvent(self, event: Any) -> None:  # noqa: N802
        """Shown again after a run ended: back to the first page (the fields keep their values)."""
        handle = self.monitor_page.handle
        if self.currentPage() is self.monitor_page and (handle is None or handle.is_done):
            self.restart()
        super().showEvent(event)
