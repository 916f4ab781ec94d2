"""Unfinished training runs survive a restart (issue 13 part 3, issue 16 part 2): the LoRA and
picture wizards remember each run they start (its settings, in the app's settings) until it
finishes; when the app opens again, a run that left a checkpoint and no result is offered:
**Resume** (the wizard takes the run's own settings and goes on from the last checkpoint),
**Discard…** (asks, then deletes that run's checkpoints and nothing else) or **Later** (offered
again next time). A finished run, or one that stopped before its first checkpoint, is not offered.
A new run started in the folder of an unfinished one asks first (:class:`StartOverBox`): a new run
there deletes the earlier run's checkpoints.

Looking at the runs' folders (and reading a LoRA run's kept clips) happens on a helper thread
(:func:`scan_runs`); the GUI thread reads and writes only the settings.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

__all__ = ["RUNS_KEY", "RunOffer", "RunOffers", "StartOverBox", "StartupOffers", "UnfinishedRun", "discard_run",
           "forget_run", "is_picture_model", "job_fields", "offer_unfinished_runs", "remember_run", "run_title",
           "scan_runs", "unfinished_step"]

#: Settings key: the runs started and not finished, ``[{"kind": "lora" | "pictures", "fields": {...}}]``.
RUNS_KEY = "training/unfinished_runs"
#: Where the LoRA wizard kept its one run before (read once, then moved to RUNS_KEY).
OLD_LORA_KEY = "lora_wizard/last_run"
#: Written by a picture run when it finishes (engine.pictures.model.CONFIG_FILE; not imported: torch).
PICTURE_MODEL_FILE = "picture_model.json"
KINDS = {"lora": "LoRA", "pictures": "picture model"}


def is_picture_model(model_id: str) -> bool:
    """A picture model (a ``builtin:`` one or a ``train-pictures`` folder), not an SD model to adapt.
    Only looks for a file (the store is not touched)."""
    return model_id.startswith("builtin:") or (Path(model_id).expanduser() / PICTURE_MODEL_FILE).is_file()


def model_name(model_id: str) -> str:
    """A model as a person names it: a folder by its name, a hub id as it is."""
    path = Path(model_id).expanduser()
    return (path.name or model_id) if path.is_absolute() or model_id.startswith(".") else model_id


def run_title(kind: str, job: Any) -> str:
    """What the run makes, by name: "LoRA 'rain'", "picture model 'pairs-picture-model'", or for a
    picture run on an SD base "audio adapter 'pairs-audio-adapter' for <the base>". Looks for a file
    (:func:`is_picture_model`)."""
    name = Path(job.output).stem if kind == "lora" else Path(job.output_dir).name
    if kind == "pictures" and not is_picture_model(str(job.base)):
        return f"audio adapter '{name}' for {model_name(str(job.base))}"
    return f"{KINDS[kind]} '{name}'"


@dataclass(frozen=True)
class UnfinishedRun:
    """A run that stopped after ``step`` of its steps (its newest complete checkpoint) with no result.
    ``job`` is the spec it was started with (``resume`` False); ``title`` its :func:`run_title`
    (found with the run, off the GUI thread)."""

    kind: str
    job: Any
    step: int
    title: str = ""

    @property
    def output_dir(self) -> str:
        return str(self.job.output_dir)

    @property
    def name(self) -> str:
        return Path(self.job.output).stem if self.kind == "lora" else Path(self.job.output_dir).name

    @property
    def what(self) -> str:
        return self.title or run_title(self.kind, self.job)

    def describe(self) -> str:
        return (f"The {self.what} did not finish: it stopped after step {self.step} of "
                f"{self.job.num_steps} and can go on from that checkpoint.")


def job_fields(job: Any) -> dict[str, Any]:
    """A spec's fields as keyword arguments that make it again."""
    return {f.name: getattr(job, f.name) for f in fields(job) if f.init}


def _records(settings: Any) -> list[dict[str, Any]]:
    records = settings.get(RUNS_KEY)
    records = [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []
    old = settings.get(OLD_LORA_KEY)
    if isinstance(old, dict):  # a run the wizard remembered before it remembered several
        records.append({"kind": "lora", "fields": old})
        settings.set(OLD_LORA_KEY, None)
        settings.set(RUNS_KEY, records)
    return records


def remember_run(settings: Any, kind: str, job: Any) -> None:
    """Remember the run ``job`` (started now) until :func:`forget_run`; a LoRA run's in-memory clips
    are kept by the engine in its folder, the record says so."""
    if settings is None:
        return
    saved = {k: v for k, v in job_fields(job).items() if k not in ("clips", "resume")}
    if kind == "lora":
        saved["clips_kept"] = bool(job.clips)
    records = [r for r in _records(settings) if (r.get("fields") or {}).get("output_dir") != job.output_dir]
    settings.set(RUNS_KEY, [{"kind": kind, "fields": saved}, *records])
    settings.sync()  # the app may be killed before Qt writes it


def forget_run(settings: Any, output_dir: str) -> None:
    if settings is None:
        return
    records = _records(settings)
    kept = [r for r in records if (r.get("fields") or {}).get("output_dir") != output_dir]
    if len(kept) != len(records):
        settings.set(RUNS_KEY, kept)
        settings.sync()


def read_records(settings: Any, kind: str) -> list[dict[str, Any]]:
    """The remembered runs of ``kind`` (cheap: settings only; :func:`scan_runs` looks at them)."""
    return [r for r in _records(settings) if r.get("kind") == kind] if settings is not None else []


def _job(record: dict[str, Any]) -> Any:
    saved = dict(record.get("fields") or {})
    if record.get("kind") == "lora":
        from engine.training.lora_library import load_clips, train_lora_spec

        saved["captions"] = tuple(tuple(pair) for pair in saved.get("captions", ()))
        if saved.pop("clips_kept", False):  # a run on project clips: read back as they were
            saved["clips"] = load_clips(saved.get("output_dir", ""))
        return train_lora_spec()(**saved)
    from engine.api import task  # the registry's spec class: the app does not import engine.tasks

    return task("train_pictures").spec(**saved)


def _finished(kind: str, job: Any, checkpoint: Path) -> bool:
    if kind == "lora":
        return Path(job.output).exists()
    made = Path(job.output_dir) / PICTURE_MODEL_FILE  # written after the last checkpoint of the run
    try:
        return made.stat().st_mtime_ns >= (checkpoint / "complete").stat().st_mtime_ns
    except OSError:
        return False


def unfinished_step(kind: str, job: Any) -> int | None:
    """The step of the newest checkpoint an unfinished run left in ``job``'s folder: what a new run
    there would delete (None: no checkpoint, or the run there finished). Reads the disk (a few stats)."""
    latest = job.latest_checkpoint()
    if latest is None or _finished(kind, job, latest[1]):
        return None
    return latest[0]


def scan_runs(records: list[dict[str, Any]]) -> tuple[list[UnfinishedRun], list[str]]:
    """(the runs to offer, the folders of records to forget: finished runs, runs with no checkpoint,
    records that no longer make a run). Reads the disk: call it off the GUI thread."""
    offered, forget = [], []
    for record in records:
        output_dir = str((record.get("fields") or {}).get("output_dir", ""))
        try:
            job = _job(record)
        except (TypeError, ValueError):  # LoraLibraryError is a ValueError: clips gone, nothing to offer
            forget.append(output_dir)
            continue
        latest = job.latest_checkpoint()
        if latest is None or _finished(record["kind"], job, latest[1]):
            forget.append(output_dir)
            continue
        offered.append(UnfinishedRun(record["kind"], job, latest[0], run_title(record["kind"], job)))
    return offered, forget


def discard_run(run: UnfinishedRun) -> list[Path]:
    """Delete what the run wrote that only a resume needs: its checkpoints (and a LoRA run's kept
    clips), then its folder if nothing else is left in it. Returns what was deleted."""
    folder = Path(run.output_dir)
    deleted = []
    parts = ["checkpoints"] + (["clips", "clips.partial"] if run.kind == "lora" else [])
    for part in parts:
        path = folder / part
        if path.is_dir():
            shutil.rmtree(path)
            deleted.append(path)
    try:
        folder.rmdir()  # only when empty: a folder that holds other files keeps them
        deleted.append(folder)
    except OSError:
        pass
    return deleted


class RunOffer(QFrame):
    """A banner offering one unfinished run: Resume, Discard… (asks first), Later.

    ``resume_requested(UnfinishedRun)``; ``discard_confirmed(UnfinishedRun)`` once the user said yes
    in :attr:`confirm_box`; Later hides the banner (the run is offered again next time)."""

    resume_requested = Signal(object)
    discard_confirmed = Signal(object)

    def __init__(self, run: UnfinishedRun, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = run
        self.setObjectName("runOffer")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel(run.describe())
        self.label.setWordWrap(True)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Go on from the last checkpoint with the settings the run was started with")
        self.discard_button = QPushButton("Discard…")
        self.discard_button.setToolTip(f"Delete its checkpoints in {run.output_dir} (asks first)")
        self.later_button = QPushButton("Later")
        self.later_button.setToolTip("Keep it; it is offered again the next time")
        row = QHBoxLayout(self)
        row.addWidget(self.label, 1)
        for button in (self.resume_button, self.discard_button, self.later_button):
            row.addWidget(button)
        self.confirm_box: QMessageBox | None = None
        self.resume_button.clicked.connect(lambda: self.resume_requested.emit(self.run))
        self.discard_button.clicked.connect(self.ask_discard)
        self.later_button.clicked.connect(self.hide)

    def ask_discard(self) -> QMessageBox:
        """Ask (a box that does not block) before anything is deleted."""
        files = "checkpoints" + (" and the clips it kept" if self.run.kind == "lora" else "")
        box = QMessageBox(QMessageBox.Icon.Question, "Discard the unfinished run",
                          f"Delete the {files} of the unfinished {self.run.what} "
                          f"(in {self.run.output_dir})? It cannot be resumed afterwards; your sounds and other "
                          "files are kept.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self.discard_confirmed.emit(self.run)
            if box.standardButton(button) == QMessageBox.StandardButton.Yes else None)
        box.show()
        self.confirm_box = box
        return box


class StartOverBox(QMessageBox):
    """Asks (window-modal, without blocking: ``open()``) before a new run starts in the folder of the
    unfinished ``kind`` run ``job`` that stopped after ``step``: **Resume that run**, **Start over
    (deletes its checkpoints)** or **Cancel**; ``answered(choice)`` gets "resume", "start over" or "cancel"."""

    def __init__(self, parent: QWidget, kind: str, job: Any, step: int, answered: Any) -> None:
        super().__init__(QMessageBox.Icon.Question, "An unfinished run is there",
                         f"The {run_title(kind, job)} did not finish: it stopped after step {step}, and this run would "
                         f"go into its folder {job.output_dir}. Resume that run from its checkpoint, or start over, "
                         "which deletes its checkpoints (your other files there are kept)?",
                         QMessageBox.StandardButton.NoButton, parent)
        self.resume_button = self.addButton("Resume that run", QMessageBox.ButtonRole.AcceptRole)
        self.start_over_button = self.addButton("Start over (deletes its checkpoints)",
                                                QMessageBox.ButtonRole.DestructiveRole)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.resume_button)
        self.setEscapeButton(self.cancel_button)
        choices = {self.resume_button: "resume", self.start_over_button: "start over"}
        self.buttonClicked.connect(lambda button: answered(choices.get(button, "cancel")))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.open()  # window-modal: Train cannot be pressed twice; nothing waits here


class RunOffers:
    """The offers of unfinished runs of ``kinds``: scanned off the GUI thread when made, shown as
    :class:`RunOffer` banners at the top of ``page`` (from row ``first_row`` of its layout); Resume
    calls ``resume(run)``, a confirmed Discard deletes that run's checkpoints (off the GUI thread)
    and forgets it. ``owner`` (a wizard or the main window) gives the ``client`` and the settings."""

    def __init__(self, owner: Any, kinds: tuple[str, ...], page: QWidget, resume: Any, *, first_row: int = 0) -> None:
        self.owner = owner  # a wizard or the main window: its ``client`` and settings
        self.settings = getattr(owner, "app_settings", None) or getattr(owner, "settings", None)
        self.page = page
        self.first_row = first_row
        self.resume = resume
        self.banners: list[RunOffer] = []
        self.handled: set[str] = set()  # resumed or discarded here: not offered again by a late scan
        self.scanned = False
        self.discarded: list[UnfinishedRun] = []
        records = [r for kind in kinds for r in read_records(self.settings, kind)]
        if not records:
            self.scanned = True
            return
        owner.client.run_in_thread("unfinished-runs", lambda: scan_runs(records), self._on_scanned,
                                   lambda _error: setattr(self, "scanned", True))

    def _on_scanned(self, found: tuple[list[UnfinishedRun], list[str]]) -> None:
        runs, stale = found
        for output_dir in stale:
            forget_run(self.settings, output_dir)
        for run in runs:
            if run.output_dir in self.handled:
                continue
            banner = RunOffer(run)
            banner.resume_requested.connect(self._on_resume)
            banner.discard_confirmed.connect(self._on_discard)
            self.page.layout().insertWidget(self.first_row + len(self.banners), banner)
            banner.show()  # now, not when the layout gets to it
            self.banners.append(banner)
        self.scanned = True
        self.shown()

    def shown(self) -> None:
        """Called after the scan put its banners up (the startup notice shows itself here)."""

    def visible(self) -> list[RunOffer]:
        return [b for b in self.banners if not b.isHidden()]

    def hide_offer(self, output_dir: str) -> None:
        self.handled.add(output_dir)
        for banner in self.banners:
            if banner.run.output_dir == output_dir:
                banner.hide()

    def _on_resume(self, run: UnfinishedRun) -> None:
        self.hide_offer(run.output_dir)
        self.resume(run)

    def _on_discard(self, run: UnfinishedRun) -> None:
        self.hide_offer(run.output_dir)

        def done(_deleted: list[Path]) -> None:
            forget_run(self.settings, run.output_dir)
            self.discarded.append(run)

        self.owner.client.run_in_thread("discard-run", lambda: discard_run(run), done)


class StartupOffers(RunOffers):
    """When the main window opens: a notice (not modal) listing the runs that did not finish, each
    with Resume (opens its wizard, which goes on from the checkpoint), Discard… and Later. It closes
    when none is left; the wizards offer the runs left for later again when opened."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.dialog = QDialog(window)
        self.dialog.setWindowTitle("Unfinished training")
        self.dialog.setModal(False)
        layout = QVBoxLayout(self.dialog)
        layout.addWidget(QLabel("These training runs did not finish (the app closed, or they were stopped):"))
        super().__init__(window, tuple(KINDS), self.dialog, self.resume_in_wizard, first_row=1)  # under the heading

    def shown(self) -> None:
        if self.visible():
            for banner in self.banners:
                banner.later_button.clicked.connect(self._close_when_done)
            self.dialog.show()

    def hide_offer(self, output_dir: str) -> None:
        super().hide_offer(output_dir)
        self._close_when_done()

    def _close_when_done(self) -> None:
        if not self.visible():
            self.dialog.hide()

    def resume_in_wizard(self, run: UnfinishedRun) -> Any:
        """Open the run's wizard (the LoRA wizard, or the Picture tab's) and go on with the run there."""
        if run.kind == "lora":
            wizard = self.window.open_lora_wizard()
        else:
            wizard = self.window.edit_tools.edit_panel.forms["illustrate"].open_training()
        wizard.resume_run(run)
        return wizard


def offer_unfinished_runs(window: Any) -> StartupOffers:
    """The main window's notice of unfinished runs (nothing shows when there are none)."""
    return StartupOffers(window)
