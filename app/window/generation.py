"""The main window's generations: the prompt panel's and the class browser's jobs (after the
model's cautions), their results landing as clips (one undo step), the Inspector's Regenerate
and Use these settings. A mixin of :class:`app.main_window.MainWindow`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from app.model.generation import NATIVE_SIZE, duration_for_size
from app.model.project import Clip
from app.window import APP_TITLE, STATUS_MESSAGE_MS
from engine.api import JobSpec, TaskResult


class _PendingJob:
    """Where a job's results land: captured on the GUI thread when it was submitted."""

    def __init__(self, spec: JobSpec, track_id: str | None, start_s: float) -> None:
        self.spec = spec
        self.track_id = track_id
        self.start_s = start_s


class GenerationMixin:
    """Generations of the main window and where their results land."""

    def generate_from_panel(self) -> bool:
        """Generate > Generate (Ctrl+Enter from anywhere, the toolbar's Generate): the prompt
        panel's job, or, when it cannot start, the Prompt dock brought to the front with its
        reason under its Generate button (which stays in sight), and the status bar repeats it
        (behind the Sound Classes tab the reason used to show where nobody saw it). True when
        the job was asked for."""
        panel = self.prompt_panel
        if panel.request_generate():
            return True
        self.prompt_dock.show()
        self.prompt_dock.raise_()
        self.show_message(panel.message_label.text(), STATUS_MESSAGE_MS)
        return False

    def use_class_prompt(self, prompt: str, size: str, *, generate: bool = False) -> None:
        """A class browser prompt (seed 001's templates) goes into the prompt panel.

        "Use" also puts its output size (and that size's duration) into the panel, as the user
        asked; "Generate" (``generate``) uses the size for that one job only, so the panel's
        size and duration stay what they were for later generations. A model that does class
        prompts badly (the synthetic-sounds starter), or was not trained on a selected class (its
        card lists the classes it knows), says so before generating."""
        if not generate:
            try:
                self.generation.set_output_size(size)
            except ValueError as exc:
                self.show_message(str(exc))
                return
        self.generation.set(prompt=prompt)
        self.prompt_dock.show()
        self.prompt_dock.raise_()
        if not generate:
            self.prompt_panel.prompt_edit.setFocus()
            return
        spec = self._class_prompt_spec(size)
        if spec is None:
            return
        from engine.audioset import model_classes
        from engine.models.catalog import task_caution

        classes = model_classes(spec.model)
        caution = task_caution(spec.model, "sound_classes") or classes.caution(self.class_browser.selected_labels())
        alternative = None
        entry = self.model_listing.find(classes.suggestion_id) if self.model_listing and caution else None
        if entry is not None and entry.downloaded:  # the real model is here: offer to use it
            alternative = (f"Use {classes.suggestion}", lambda: self._generate_class_prompt_with(entry.model_id, size))
        self.run_after_caution("sound_classes", spec.model, lambda: self.generate(spec), caution=caution,
                               alternative=alternative, suggest=classes.suggestion_id)

    def _class_prompt_spec(self, size: str) -> JobSpec | None:
        """The prompt panel's job at the class browser's output ``size`` for that job only (the
        panel keeps its own size and length); None when the panel says what is wrong."""
        try:
            overrides = {} if size == NATIVE_SIZE else {"size": size, "duration_s": duration_for_size(size, self.generation.preset)}
            return self.prompt_panel.spec(**overrides)
        except ValueError as exc:
            self.prompt_panel.show_message(str(exc))
            return None

    def _generate_class_prompt_with(self, model: str, size: str) -> None:
        """Switch the prompt panel to ``model`` (with its recommended settings) and generate the
        class prompt already in the panel at ``size`` (for that job only)."""
        self.prompt_panel.set_model(model)
        self.prompt_panel.apply_model_hints()
        spec = self._class_prompt_spec(size)
        if spec is not None:
            self.generate(spec)

    def _open_models_for_classes(self) -> None:
        """The Sound Classes note's link and the Prompt dock's "download a real model": the model
        manager, with the real model suggested for the chosen model selected."""
        classes = self.class_browser.model_classes()
        self.open_model_manager(select=classes.suggestion_id if classes is not None and not classes.general else "")

    def _on_prompt_panel_generate_requested(self, spec: JobSpec) -> None:
        self.run_after_caution("generate", getattr(spec, "model", ""), lambda: self.generate(spec))

    def run_after_caution(self, task: str, model: str, proceed: Callable[[], Any], *, caution: str | None = None,
                          alternative: tuple[str, Callable[[], Any]] | None = None, suggest: str = "") -> bool:
        """Run ``proceed()`` now when nothing is known against ``model`` doing ``task`` (True);
        otherwise say what the model does badly (``caution``, else the catalog's for the task) in
        a box that does not block, whose buttons go on anyway, open the model manager (with model
        ``suggest`` selected), run ``alternative`` (a button's text and what it does: another
        model), or cancel (False; ``caution_box`` holds the box)."""
        from engine.models.catalog import task_caution

        caution = caution or task_caution(model, task)
        if not caution:
            proceed()
            return True
        box = QMessageBox(QMessageBox.Icon.Warning, APP_TITLE, caution, QMessageBox.StandardButton.Cancel, self)
        go_on = box.addButton("Go On", QMessageBox.ButtonRole.AcceptRole)
        manager = box.addButton("Open Model Manager", QMessageBox.ButtonRole.ActionRole)
        other = box.addButton(alternative[0], QMessageBox.ButtonRole.ActionRole) if alternative else None
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def clicked(button: Any) -> None:
            if button is go_on:
                proceed()
            elif button is manager:
                self.open_model_manager(select=suggest)
            elif alternative is not None and button is other:
                alternative[1]()

        box.buttonClicked.connect(clicked)
        box.show()
        self.caution_box = box
        self.show_message(caution, STATUS_MESSAGE_MS * 2)
        return False

    def _on_generation_changed(self, name: str, value: Any) -> None:
        if name == "model":
            from engine.audioset import model_classes
            from engine.models.catalog import model_hints, task_caution

            # No model picked yet (the list still loading): "Pick a model first", not " is a general model".
            classes = model_classes(value) if str(value or "").strip() else None
            self.class_browser.follow_model(model_hints(value), task_caution(value, "sound_classes"), classes)

    def generate(self, spec: JobSpec) -> int | None:
        """Submit a generation; its clips land at the current playhead on the selected track.
        Returns the job id (None when the engine refused the job)."""
        track = self.project.selected_track()
        try:
            handle = self.client.submit(spec)
        except (RuntimeError, ValueError) as exc:
            self.show_message(f"Could not start the job: {exc}")
            return None
        pending = _PendingJob(spec, track.id if track else None, self.project.playhead_s)
        handle.finished.connect(lambda result: self._on_generation_finished(handle.job_id, pending, result))
        handle.failed.connect(lambda message, _kind: self._on_generation_failed(pending, message))
        self.jobs_dock.raise_()
        return handle.job_id

    def _on_generation_finished(self, job_id: int, pending: _PendingJob, result: Any) -> None:
        if not isinstance(result, (tuple, list)):
            return
        results = [r for r in result if isinstance(r, TaskResult)]
        if not results:
            return
        self.project.remember_inputs(pending.spec, [r.recipe for r in results])  # for Regenerate
        clips, track_id = self._land_results(pending, results)
        first = results[0].recipe
        self.prompt_panel.note_used_seed(first.seed)
        self.status.set_device_used(first.device)
        # The landing selected the first clip and scrolled to it; listeners hear on the next turn.
        QTimer.singleShot(0, lambda: self.clips_generated.emit(job_id, clips))

    def _on_generation_failed(self, pending: _PendingJob, message: str) -> None:
        # The reason right after the job's kind: after its whole title ("Generate: <the prompt's
        # first 50 characters>") the status bar cut the reason at the window's edge. The raised
        # Jobs dock names the job.
        kind = pending.spec.describe().split(":", 1)[0]
        self.show_message(f"{kind} failed: {message}", STATUS_MESSAGE_MS * 2)
        self.jobs_dock.raise_()

    def _land_results(self, pending: _PendingJob, results: list[TaskResult]) -> tuple[list[Clip], str]:
        """One undo step: a clip per variation, at the playhead of the job's start on the target
        track if free (else after its last clip), variations on the tracks below where free
        (app.model.placement: never over another clip)."""
        project = self.project
        track_id = pending.track_id if any(t.id == pending.track_id for t in project.tracks) else None
        if track_id is None:
            selected = project.selected_track() or (project.tracks[0] if project.tracks else None)
            track_id = selected.id if selected is not None else None
        preset = getattr(pending.spec, "spectrogram_preset", "riffusion")
        clips = [Clip(name=_clip_name(r), audio=r.audio, sample_rate_hz=r.sample_rate_hz, start_s=pending.start_s,
                      recipe=r.recipe, image=r.image, spectrogram_preset=preset) for r in results]
        prompt = getattr(pending.spec, "prompt", "")
        text = f"Generate {prompt[:30]!r}" + (f" ({len(clips)} variations)" if len(clips) > 1 else "")
        self.edit_tools.landing.add_clips(text, track_id, clips)
        return clips, project.find_clip(clips[0].id)[0].id

    def _on_inspector_use_settings_requested(self, recipe: Any, clip: Clip) -> None:
        from engine.api import spec_from_recipe

        try:
            spec = spec_from_recipe(recipe) if recipe.task == "generate" else None
        except ValueError:  # a recipe this version cannot reproduce
            spec = None
        if spec is not None:
            self.prompt_panel.apply_spec(spec)
        else:  # another task's recipe: take what text-to-audio shares with it
            self.prompt_panel.apply_recipe(recipe, duration_s=clip.total_s, preset=clip.spectrogram_preset)
        self.prompt_dock.raise_()


def _clip_name(result: TaskResult) -> str:
    recipe = result.recipe
    prompt = str(recipe.params.get("prompt", "")).strip() or "Generated"
    short = prompt if len(prompt) <= 28 else prompt[:27] + "…"
    return f"{short} #{recipe.seed}"
