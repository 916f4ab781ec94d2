"""Generating from the prompt panel as a user would: the tiny model runs on the real engine
thread, results land as clips with their recipe, jobs can be cancelled, failures are messages."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.model.project import Selection
from app.widgets.qt_prompt_panel import QtPromptPanel


def fill_prompt(panel, model: str, *, prompt="dusty vinyl drum loop", seed=7, steps=2, duration_s=0.64, variations=1):
    panel.prompt_edit.setPlainText(prompt)
    panel.set_model(model)
    panel.preset_combo.setCurrentText("riffusion")  # the tiny test model's geometry
    panel.seed_edit.setText(str(seed) if seed is not None else "")
    panel.seed_lock.setChecked(seed is not None)
    panel.steps_spin.setValue(steps)
    panel.duration_spin.setValue(duration_s)
    panel.variations_spin.setValue(variations)
    panel.guidance_spin.setValue(5.0)


def click_generate_and_wait(qtbot, window, timeout_ms=120000):
    with qtbot.waitSignal(window.clips_generated, timeout=timeout_ms) as generated:
        qtbot.mouseClick(window.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    return generated.args


def test_generate_lands_a_clip_with_its_recipe_at_the_playhead(qtbot, window, tiny_model):
    project = window.project
    track = project.tracks[0]
    project.set_playhead(1.5)
    fill_prompt(window.prompt_panel, tiny_model)
    window.prompt_panel.preview_check.setChecked(True)
    previews = []
    window.client.job_progressed.connect(lambda j, p: previews.append(j) if p.preview is not None else None)
    job_id, clips = click_generate_and_wait(qtbot, window)

    (clip,) = clips
    assert project.find_clip(clip.id) == (track, clip)
    assert clip.start_s == 1.5
    assert clip.length_s == pytest.approx(0.64, abs=0.02)
    recipe = clip.recipe
    assert (recipe.params["prompt"], recipe.seed, recipe.params["num_inference_steps"], recipe.model_id) == (
        "dusty vinyl drum loop", 7, 2, tiny_model)
    assert recipe.params["guidance_scale"] == 5.0 and recipe.device == "cpu"
    assert clip.image is not None and np.abs(clip.audio).max() > 0
    # Selected and shown in the inspector with its recipe.
    assert project.selection.clip_ids == {clip.id}
    qtbot.waitUntil(lambda: window.inspector.clip is clip, timeout=2000)
    assert window.inspector.thumbnail.pixmap().height() == 96
    shown = window.inspector.values("recipe")
    assert shown["Prompt"] == "dusty vinyl drum loop" and shown["Seed"] == "7" and "LoRAs" not in shown
    assert window.inspector.values("clip")["Start"] == "1.500 s"
    # The job panel says it is done, and showed the spectrogram being denoised.
    row = window.job_panel.row(job_id)
    assert row.state == "finished" and row.stage.text().startswith("\u2713 ") and row.stage.toolTip().startswith("Done in ")
    assert previews and not row.preview.pixmap().isNull()
    # One generation is one undo step.
    assert window.undo_stack.count() == 1
    window.undo_stack.undo()
    assert not project.has_clip(clip.id)
    window.undo_stack.redo()
    assert project.find_clip(clip.id)[1] is clip


def test_variations_land_on_successive_tracks_and_regenerate_identically(qtbot, window, tiny_model):
    project = window.project
    fill_prompt(window.prompt_panel, tiny_model, variations=2, seed=None)  # unlocked: a random seed
    _, clips = click_generate_and_wait(qtbot, window)
    seed = clips[0].recipe.seed
    assert [c.recipe.seed for c in clips] == [seed, seed + 1]
    assert window.prompt_panel.seed_edit.text() == str(seed)  # the seed it used is shown
    assert [project.find_clip(c.id)[0] for c in clips] == project.tracks[:2]
    assert not np.array_equal(clips[0].audio, clips[1].audio)
    window.undo_stack.undo()  # one step removes both clips and the track made for them
    assert len(project.tracks) == 1 and not project.clips()
    window.undo_stack.redo()
    second = clips[1]

    # Regenerate from the inspector: the same recipe gives the same samples.
    project.set_selection(Selection(clip_ids={second.id}))
    qtbot.waitUntil(lambda: window.inspector.clip is second, timeout=2000)
    with qtbot.waitSignal(window.clips_generated, timeout=120000) as again:
        qtbot.mouseClick(window.inspector.regenerate_button, Qt.MouseButton.LeftButton)
    (regenerated,) = again.args[1]
    assert regenerated.recipe == second.recipe
    np.testing.assert_array_equal(regenerated.audio, second.audio)

    project.set_selection(Selection(clip_ids={second.id}))
    qtbot.waitUntil(lambda: window.inspector.clip is second, timeout=2000)
    qtbot.mouseClick(window.inspector.copy_seed_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == str(seed + 1)
    window.prompt_panel.prompt_edit.setPlainText("something else")
    window.prompt_panel.seed_lock.setChecked(False)
    qtbot.mouseClick(window.inspector.use_settings_button, Qt.MouseButton.LeftButton)
    spec = window.prompt_panel.spec()
    assert (spec.prompt, spec.seed, spec.num_inference_steps, spec.model) == (
        second.recipe.params["prompt"], seed + 1, 2, tiny_model)
    assert spec.duration_s == pytest.approx(second.total_s, abs=0.011)


def test_cancel_mid_generation_leaves_no_clip(qtbot, window, tiny_model):
    """Cancel from the job panel while denoising: no clip, the row says so, the engine is idle
    (and the conftest check sees no leftover thread after the window closes)."""
    client = window.client
    fill_prompt(window.prompt_panel, tiny_model, steps=400)
    denoising = []
    client.job_progressed.connect(lambda job_id, p: denoising.append(job_id) if p.stage == "denoise" else None)
    qtbot.mouseClick(window.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(denoising), timeout=120000)
    job_id = denoising[0]
    row = window.job_panel.row(job_id)
    with qtbot.waitSignal(client.job_cancelled, timeout=60000) as cancelled:
        qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    assert cancelled.args == [job_id]
    qtbot.wait(50)  # let any stray event through: none may add a clip
    assert window.project.clips() == [] and window.undo_stack.count() == 0
    assert row.state == "cancelled" and row.stage.text() == "Cancelled"
    assert not client.is_busy


def test_failure_is_a_message_in_the_job_panel(qtbot, window, tmp_path):
    fill_prompt(window.prompt_panel, str(tmp_path / "missing-model"))
    with qtbot.waitSignal(window.client.job_failed, timeout=60000) as failed:
        qtbot.mouseClick(window.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    row = window.job_panel.row(failed.args[0])
    assert row.state == "failed" and "missing-model" in row.message() and row.reason.isVisibleTo(row)
    assert window.statusBar().currentMessage().startswith("Generate failed: ")  # the reason next, not the prompt
    assert "missing-model" in window.statusBar().currentMessage()
    assert window.project.clips() == []


def test_generate_with_the_prompt_panel_out_of_sight_shows_why_it_did_not_start(qtbot, window):
    """With the Sound Classes tab in front of the Prompt dock, the toolbar's Generate (or
    Ctrl+Enter) with no prompt did nothing the user could see: 'Type a prompt first.' went to the
    hidden panel."""
    from PySide6.QtWidgets import QTabBar

    left_tabs = next(bar for bar in window.findChildren(QTabBar) if bar.count() and bar.tabText(0) == "Prompt")

    def front() -> str:
        return left_tabs.tabText(left_tabs.currentIndex())

    window.prompt_panel.prompt_edit.setPlainText("")
    window.classes_dock.raise_()
    qtbot.waitUntil(lambda: front() == "Sound Classes")
    with qtbot.assertNotEmitted(window.prompt_panel.generate_requested):
        window.generate_action.trigger()
    assert window.statusBar().currentMessage() == "Type a prompt first."
    qtbot.waitUntil(lambda: front() == "Prompt")  # the panel with the reason came to the front
    assert window.prompt_panel.message_label.text() == "Type a prompt first."


def test_prompt_panel_checks_input_and_ctrl_enter_generates(qtbot, tiny_model):
    panel = QtPromptPanel()
    qtbot.addWidget(panel)
    panel.show()
    with qtbot.assertNotEmitted(panel.generate_requested):
        panel.request_generate()
    assert panel.message_label.text() == "Type a prompt first."
    fill_prompt(panel, tiny_model, seed=None)
    panel.seed_lock.setChecked(True)
    panel.seed_edit.setText("")
    panel.request_generate()
    assert "seed is locked" in panel.message_label.text()
    panel.seed_edit.setText("99")
    panel.prompt_edit.setFocus()
    with qtbot.waitSignal(panel.generate_requested, timeout=2000) as requested:
        qtbot.keyClick(panel.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    spec = requested.args[0]
    assert spec.seed == 99 and spec.model == tiny_model and spec.num_inference_steps == 2
    assert "\n" not in panel.prompt_edit.toPlainText()  # Ctrl+Enter submits, it adds no line
    assert not panel.message_label.isVisible()


def test_a_ten_digit_seed_shows_whole_in_the_narrowest_prompt_panel(qtbot, themed_app):
    """The seed of a generation (up to 4294967295) filled into the Seed field showed as
    "365966504": its first digit scrolled out of the field, in the app's theme."""
    from PySide6.QtWidgets import QStyle, QStyleOptionFrame

    panel = QtPromptPanel()
    qtbot.addWidget(panel)
    panel.resize(panel.minimumSizeHint().width(), 700)  # the Prompt dock at its narrowest
    panel.show()
    qtbot.waitExposed(panel)
    edit = panel.seed_edit
    edit.setText("2365966504")
    edit.setCursorPosition(len(edit.text()))  # as after setText, the end in view
    option = QStyleOptionFrame()
    edit.initStyleOption(option)
    room = edit.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, edit)
    margins = edit.textMargins()
    room = room.width() - margins.left() - margins.right()
    assert edit.fontMetrics().horizontalAdvance(edit.text()) < room


def test_every_setting_of_the_prompt_panel_explains_itself_on_hover(qtbot):
    """Steps, Guidance, Scheduler, Variations, Negative, Seed, Spectrogram and Live preview had
    no tooltip: a sound designer new to diffusion could not find out what they do."""
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit

    panel = QtPromptPanel()
    qtbot.addWidget(panel)
    panel.show()
    fields = [w for cls in (QAbstractSpinBox, QComboBox, QLineEdit, QAbstractButton) for w in panel.findChildren(cls)
              if w.isVisibleTo(panel) and not isinstance(w.parentWidget(), (QAbstractSpinBox, QComboBox))
              and w is not panel.prompt_edit]
    assert len(fields) >= 14
    assert [w for w in fields if not w.toolTip()] == []
    assert "follows the prompt" in panel.guidance_spin.toolTip()
    assert "Denoising steps" in panel.steps_spin.toolTip()
    assert "same sound again" in panel.seed_edit.toolTip()


def test_job_rows_show_download_bytes_rate_eta_and_steps(qtbot):
    from app.widgets.qt_job_panel import JobRow
    from engine.api import DownloadModelJob, Progress

    row = JobRow(1, DownloadModelJob("riffusion/riffusion-model-v1"))
    qtbot.addWidget(row)
    assert row.title.text() == "Download riffusion/riffusion-model-v1" and row.stage.text() == "Waiting"
    row.set_progress(Progress(stage="download", step=1_500_000_000, total=4_265_000_000, bytes_done=1_500_000_000,
                              bytes_total=4_265_000_000, rate_bytes_per_s=25_000_000, eta_s=110.6))
    assert row.stage.text() == "Downloading"
    assert row.detail.text() == "1.50 GB of 4.26 GB, 25.0 MB/s, 1:51 left"
    assert (row.bar.maximum(), row.bar.value()) == (1000, 351)  # bytes overflow an int bar: per mille
    row.set_progress(Progress(stage="load"))
    assert row.stage.text() == "Loading model" and row.bar.maximum() == 0  # busy indicator
    row.set_progress(Progress(stage="denoise", step=3, total=30))
    assert row.detail.text() == "step 3 of 30" and (row.bar.value(), row.bar.maximum()) == (3, 30)
    row.set_failed("Out of GPU memory. Try: turn on VAE tiling.", "OutOfMemoryError")
    assert row.stage.text() == "Failed" and "VAE tiling" in row.message()
    assert row.cancel_button.isHidden() and row.is_done


def test_a_job_row_counts_parts_from_one_and_cuts_a_long_title_with_an_ellipsis(qtbot):
    """A generation's last stage read "part 0 of 1 - Inverting to audio" and a long prompt ran
    under the stage label, clipped mid-letter ("Generate: a violin note at (Making audio")."""
    from app.widgets.qt_job_panel import JobRow
    from engine.api import GenerateJob, Progress

    prompt = "a violin note at G4 with a slow bow and a little vibrato"
    row = JobRow(1, GenerateJob(prompt=prompt, model="builtin:starter2"))
    qtbot.addWidget(row)
    row.resize(300, 80)  # the Jobs dock's width
    row.show()
    qtbot.waitExposed(row)
    row.set_progress(Progress(stage="invert", step=0, total=1, message="Inverting to audio"))
    assert row.detail.text() == "Inverting to audio"  # one part: no count
    row.set_progress(Progress(stage="tile", step=0, total=3, message="Extending"))
    assert row.detail.text() == "part 1 of 3 - Extending"
    row.set_progress(Progress(stage="tile", step=3, total=3, message="Windows done"))
    assert row.detail.text() == "part 3 of 3 - Windows done"
    row.set_progress(Progress(stage="train", step=100, total=1000))
    assert row.detail.text() == "step 100 of 1000"
    shown = row.title.elided_text()
    assert shown.endswith("…") and shown[:-1] in row.title.text() and row.title.toolTip() == row.title.text()
    assert not row.title.geometry().intersects(row.stage.geometry())  # the title stops before the stage
    assert row.title.width() > row.width() // 2  # running, the stage is beside the bar: the title has the line
    assert row.title.fontMetrics().horizontalAdvance(shown) <= row.title.contentsRect().width()


def test_full_band_follows_the_starter_models_card_and_can_be_switched_off(qtbot):
    panel = QtPromptPanel()
    qtbot.addWidget(panel)
    panel.set_model("builtin:starter")
    panel.apply_model_hints()
    assert panel.upsample_check.isChecked() and panel.settings.upsampler == "builtin:upsampler"
    panel.upsample_check.setChecked(False)
    assert panel.settings.upsampler == ""
    panel.upsample_check.setChecked(True)
    assert panel.settings.upsampler == "builtin:upsampler"
    assert panel.state()["upsampler"] == "builtin:upsampler"


def test_the_jobs_dock_at_1024_x_700_shows_several_jobs_a_line_each(qtbot, window, tiny_model, themed_app):
    """At 1024 x 700 a finished job took 56 px of the Jobs dock (title, a full bar, "in 8.0 s")
    and the dock showed one and a half. Now a waiting or finished job is one line, a running one
    two (its bar and step under the title), and four finished jobs show at once."""
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.height() <= 710)
    fill_prompt(window.prompt_panel, tiny_model)
    panel = window.job_panel
    finished = []
    window.client.job_finished.connect(lambda job_id, _result: finished.append(job_id))
    running_heights = []
    window.client.job_progressed.connect(
        lambda job_id, _p: running_heights.append(panel.row(job_id).sizeHint().height()))
    for seed in range(4):
        window.prompt_panel.seed_edit.setText(str(seed))
        qtbot.mouseClick(window.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(finished) == 4, timeout=240000)
    QGuiApplication.processEvents()
    rows = [panel.row(job_id) for job_id in finished]
    line = rows[0].title.sizeHint().height()
    assert running_heights and max(running_heights) <= 2 * line + 16  # title; bar and step
    for row in rows:
        assert row.stage.text().startswith("\u2713") and "Done in" in row.stage.toolTip()
        assert row.height() <= line + 10, (row.height(), line)  # one line
        assert row.title.elided_text().startswith("Generate: dusty")  # the prompt still reads
    viewport = rows[0].parentWidget().parentWidget()  # the list's scroll viewport
    assert viewport.height() <= 8 * line  # the dock is as small as it was (a row took 3 lines and a bar) ...
    shown = [row for row in rows if 0 <= row.mapTo(viewport, row.rect().bottomLeft()).y() <= viewport.height()]
    assert len(shown) == 4  # ... and shows all four
