"""The LoRA wizard driven as a user would, on the tiny model: a folder of tones -> the dataset
read (a broken file skipped with its reason, spectrograms that play) -> settings from the CPU
preset with each clip's count of views -> a run on the engine worker with loss curves, samples
next to the base model's and checkpoints -> the LoRA in the library, applied, and a generation
with it differs from one without. A cancelled run resumes from its checkpoint after a restart,
and a new run starts from a LoRA's stored settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.model.generation import GenerationSettings
from app.widgets.lora_wizard import ESTIMATE_STALE, LoraWizard
from app.widgets.lora_wizard_runs import RUNS_KEY, remember_run
from engine.training.lora_library import scan_library

RATE = 22050


class FakePlayer:
    def __init__(self):
        self.loaded = []

    def load(self, mix, rate):
        self.loaded.append((mix, rate))

    def play(self):
        pass

    def stop(self):
        pass


@pytest.fixture
def sounds(tmp_path):
    folder = tmp_path / "sounds"
    folder.mkdir()
    t = np.arange(int(1.5 * RATE)) / RATE
    for i in range(4):
        sf.write(str(folder / f"tone{i}.wav"), 0.5 * np.sin(2 * np.pi * (350 + 90 * i) * t), RATE)
    (folder / "broken.wav").write_bytes(b"not audio at all")
    (folder / "metadata.csv").write_text("file_name,text\ntone0.wav,a low hum\ntone_9.wav,a typo\n", encoding="utf-8")
    return folder


def make_wizard(qtbot, client, tiny_model, settings, tmp_path, **kwargs):
    generation = GenerationSettings(model=tiny_model)
    wizard = LoraWizard(client, generation=generation, settings=settings, library_folder=tmp_path / "loras",
                        player=FakePlayer(), **kwargs)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitUntil(lambda: bool(wizard.training_page.cpu_preset()), timeout=60000)
    return wizard, generation


def fill_dataset(qtbot, wizard, folder, trigger="zorb"):
    page = wizard.dataset_page
    page.folder_edit.setText(str(folder) if folder else "")
    page.trigger_edit.setText(trigger)
    page.spectrogram_combo.setCurrentIndex(page.spectrogram_combo.findData("starter"))
    page.duration_spin.setValue(1.28)
    page.height_spin.setValue(64)  # 64 x 64 images: 8 x 8 latents for the tiny model
    page.validation_spin.setValue(25)
    with qtbot.waitSignal(wizard.dataset_read, timeout=60000) as read:
        page.read_button.click()
    return read.args[0]


def fill_training(page, *, steps=3, checkpoint_every=0, sample_every=3):
    page.preset_combo.setCurrentIndex(page.preset_combo.findData(page.cpu_preset()))
    page.apply_preset(page.cpu_preset())
    page.unit_combo.setCurrentText("steps")
    page.length_spin.setValue(steps)
    page.rank_spin.setValue(2)
    page.alpha_spin.setValue(4.0)
    page.lr_spin.setValue(0.05)
    page.text_encoder_check.setChecked(False)
    page.batch_spin.setValue(2)
    page.warmup_spin.setValue(0)
    page.snr_check.setChecked(True)
    page.snr_spin.setValue(5.0)
    page.sample_every_spin.setValue(sample_every)
    page.checkpoint_spin.setValue(checkpoint_every)
    page.prompts_edit.setText("zorb")


def test_folder_to_a_trained_lora_in_the_library_that_changes_generations(
        qtbot, client, tiny_model, settings, sounds, tmp_path, wait_job):
    wizard, generation = make_wizard(qtbot, client, tiny_model, settings, tmp_path)
    page = wizard.dataset_page
    assert not page.isComplete()
    dataset = fill_dataset(qtbot, wizard, sounds)
    # The dataset as training will see it: 4 sounds, the broken file skipped with its reason.
    assert len(dataset) == 4 and page.isComplete()
    assert page.table.rowCount() == 4 and page.grid.count() == 4
    assert page.table.item(0, 1).text() == "a low hum"  # from metadata.csv, trigger shown apart
    assert page.table.item(0, 1).toolTip() == "Trained as: zorb, a low hum"
    # what the model is trained with, the trigger word in front (a caption of the trigger word alone
    # left the editable column blank, as if no caption had been read)
    assert [page.table.item(r, 2).text() for r in range(4)] == ["zorb, a low hum", "zorb, tone1", "zorb, tone2",
                                                                "zorb, tone3"]
    assert [page.table.item(r, 3).text() for r in range(4)].count("validation") == 1
    skipped, unused = [page.skipped_list.item(i).text() for i in range(page.skipped_list.count())]
    assert skipped.startswith("Skipped broken.wav:") and page.skipped_list.isVisibleTo(page)
    assert unused == "Caption for tone_9.wav unused: no such file in the folder"  # a typo in metadata.csv
    assert "4 sounds (3 training, 1 validation), 1 skipped" in page.summary_label.text()
    page.table.item(1, 1).setText("a bright beep")  # a typed caption
    assert page.table.item(1, 2).text() == "zorb, a bright beep"
    page.grid.itemActivated.emit(page.grid.item(1))  # a spectrogram plays what the model learns
    mix, rate = wizard.player.loaded[-1]
    assert rate == RATE and mix.shape == (1, 64 * dataset.target.params.hop_length)
    np.testing.assert_array_equal(mix, dataset.examples[1].audio)

    wizard.next()
    training = wizard.training_page
    # The estimate is in view without scrolling to the end of the fields, and the lines under the
    # length read as one block
    assert training.estimate_button.isVisible() and not training.estimate_button.visibleRegion().isEmpty()
    why, seen = training.length_why_label, training.seen_label
    assert seen.parent() is why.parent() and 0 <= seen.geometry().top() - why.geometry().bottom() <= 8
    assert why.height() <= why.heightForWidth(why.width()) + 4  # no blank space inside the lines either
    fill_training(training, steps=3, checkpoint_every=2)
    assert "each clip is seen 2.0 times" in training.seen_label.text()  # 3 steps x 2 clips / 3 clips
    assert "underfit" in training.seen_label.text()  # far fewer showings than LoRA trainers use
    training.length_spin.setValue(1800)  # 1200 showings each: the wizard advises a length for 3 clips
    assert "each clip is seen 1200.0 times" in training.seen_label.text()
    assert "overfit" in training.seen_label.text() and "about 300 steps" in training.seen_label.text()
    training.length_spin.setValue(300)
    assert "fit" not in training.seen_label.text()  # a usual length: no advice
    training.length_spin.setValue(3)
    training.unit_combo.setCurrentText("epochs")
    training.length_spin.setValue(4)
    assert training.seen_label.text().startswith("6 steps")  # 4 passes over 3 clips, 2 per step
    training.unit_combo.setCurrentText("steps")
    training.length_spin.setValue(3)
    with qtbot.waitSignal(wizard.estimated, timeout=120000) as estimated:
        training.estimate_button.click()  # on the engine (or a helper thread): the GUI goes on
    assert estimated.args[0].total_steps == 3 and estimated.args[0].peak_memory_bytes > 0
    assert training.estimate_label.text().startswith("3 steps (each clip seen 2.0 times)")
    assert "Each clip is seen only 2 times" in training.estimate_label.text()  # the same advice
    # The estimate follows a new length without being made again, from the timings it measured
    training.length_spin.setValue(6)
    assert training.estimate_label.text().startswith(
        "For 6 steps, worked out from the timings measured for 3: 6 steps (each clip seen 4.0 times)")
    training.rank_spin.setValue(3)  # anything else it depends on changed: it says so instead of misleading
    assert training.estimate_label.text() == ESTIMATE_STALE
    training.rank_spin.setValue(2)
    training.length_spin.setValue(3)
    assert training.estimate_label.text().startswith("3 steps (each clip seen 2.0 times)")
    # The last page says what Train starts, with the time estimated, before committing
    wizard.output_page.initializePage()
    run = wizard.output_page.run_label.text()
    assert run.startswith("Train runs 3 steps (your own length) over 3 training clips, each seen 2.0 times; about ")
    assert "of wall time at the load measured" in run
    settings_ = training.settings()
    assert (settings_["max_steps"], settings_["rank"], settings_["num_threads"], settings_["snr_gamma"]) == (3, 2, 1, 5.0)

    wizard.next()
    wizard.output_page.name_edit.setText("zorb")
    with qtbot.waitSignal(wizard.lora_trained, timeout=180000) as trained:
        wizard.next()  # "Train": the run goes to the engine worker
        assert wizard.currentPage() is wizard.monitor_page
    entry = trained.args[0]
    monitor = wizard.monitor_page
    # What the monitoring page showed: a loss per step, validation losses, samples, a checkpoint.
    assert monitor.steps == [1, 2, 3] and all(np.isfinite(monitor.losses))
    assert [s for s, _v in monitor.validation] == [0, 3]
    assert "step 2" in monitor.checkpoint_label.text()
    qtbot.waitUntil(lambda: len(monitor.sample_buttons()) == 2, timeout=10000)  # thumbnails: a helper thread
    buttons = monitor.sample_buttons()
    assert [b.property("sample_kind") for b in buttons] == ["with the LoRA", "base model"]
    buttons[1].click()
    np.testing.assert_array_equal(wizard.player.loaded[-1][0], monitor.samples[0].base_audio)
    assert not np.array_equal(monitor.samples[0].audio, monitor.samples[0].base_audio)
    assert "Done: zorb" in monitor.status_label.text() and monitor.isComplete()
    # The file is in the library with what it was trained on, and applied in the prompt panel.
    (listed,), problems = scan_library([tmp_path / "loras"], hub=False)
    assert problems == [] and listed.path == entry.path == str(tmp_path / "loras" / "zorb.safetensors")
    assert listed.trigger_words == ("zorb",) and (listed.rank, listed.alpha, listed.steps) == (2, 4.0, 3)
    assert "zorb, a bright beep" in listed.dataset["captions"] and listed.fits(tiny_model)
    assert generation.loras == ((entry.ref, 1.0),)
    assert settings.get(RUNS_KEY) == []  # nothing left to resume
    wizard.hide()
    wizard.show()  # opened again after the run: a new run starts from the first page, fields kept
    assert wizard.currentPage() is wizard.dataset_page and page.folder_edit.text() == str(sounds)

    # A generation with the LoRA differs from the same one without.
    from engine.api import GenerateJob

    job = dict(prompt="zorb", model=tiny_model, seed=3, num_inference_steps=2, duration_s=0.64, guidance_scale=5.0)
    outcome, (_id, with_lora) = wait_job(client, lambda: client.submit(GenerateJob(**job, loras=generation.loras)))
    assert outcome == "finished"
    outcome, (_id, without) = wait_job(client, lambda: client.submit(GenerateJob(**job)))
    assert outcome == "finished" and with_lora[0].recipe.loras == ((entry.ref, 1.0),)
    assert not np.array_equal(with_lora[0].audio, without[0].audio)


def to_the_output_page(qtbot, wizard, sounds, name, **training):
    """Read ``sounds`` (trigger ``name``), set the training page (``fill_training``), name the LoRA ``name``."""
    fill_dataset(qtbot, wizard, sounds, trigger=name)
    wizard.next()
    fill_training(wizard.training_page, **training)
    wizard.next()
    wizard.output_page.name_edit.setText(name)


def close_the_app(qtbot, wizard, client):
    """What quitting the app does to a run: the window goes, the engine client cancels every job."""
    wizard.close()
    client.shutdown()


def test_a_run_cut_short_by_closing_the_app_is_offered_when_it_opens_and_resumed_with_its_settings(
        qtbot, client, make_client, tiny_model, settings, sounds, tmp_path):
    wizard, _generation = make_wizard(qtbot, client, tiny_model, settings, tmp_path)
    to_the_output_page(qtbot, wizard, sounds, "blip", steps=6, checkpoint_every=1, sample_every=0)
    monitor = wizard.monitor_page
    checkpoints, paused_at = [], []

    def on_progress(p):
        if p.stage == "train" and p.step == 1:
            monitor.pause_button.click()  # pause after the first step
        if p.stage == "checkpoint":
            checkpoints.append(p.step)

    def on_paused():
        # The click lands while the worker is already on its next step on a busy machine: the run
        # stops after the step it is on, and says which.
        paused_at.append(list(monitor.steps))
        button, text = monitor.pause_button.text(), monitor.status_label.text()
        monitor.pause_button.click()  # resume
        assert button == "Resume" and monitor.steps and f"Paused at step {monitor.steps[-1]} " in text, text

    from app.widgets.qt_job_panel import QtJobPanel

    jobs = QtJobPanel(client)  # the Jobs dock says the run is paused
    qtbot.addWidget(jobs)
    shown = []
    client.job_paused.connect(lambda job_id: shown.append(jobs.row(job_id).stage.text()))
    wizard.run_started.connect(lambda handle: (handle.progressed.connect(on_progress), handle.paused.connect(on_paused)))
    with qtbot.waitSignal(wizard.run_started, timeout=10000):
        wizard.next()
    qtbot.waitUntil(lambda: any(step >= 2 for step in checkpoints), timeout=120000)
    job = wizard.job
    close_the_app(qtbot, wizard, client)  # mid-run: nothing finished it
    # It stopped once, right after the click (after step 1, or the step the worker was already on),
    # and went on when resumed.
    assert len(paused_at) == 1 and paused_at[0] == list(range(1, len(paused_at[0]) + 1)) and len(paused_at[0]) <= 3
    assert shown == ["Paused"]
    assert not (tmp_path / "loras" / "blip.safetensors").exists()
    step, _folder = job.latest_checkpoint()
    assert 2 <= step < 6

    # The app opens again: the main window says so at once, by name and step (no wizard opened yet).
    from app.main_window import MainWindow

    client = make_client()
    window = MainWindow(client, settings)
    window.ask_before_closing = False
    qtbot.addWidget(window)
    window.show()
    notice = window.unfinished_runs
    qtbot.waitUntil(lambda: notice.dialog.isVisible(), timeout=30000)  # the folders are looked at off the GUI thread
    (offer,) = notice.visible()
    assert offer.label.text() == (f"The LoRA 'blip' did not finish: it stopped after step {step} of 6 and can go on "
                                  "from that checkpoint.")
    assert [b.text() for b in (offer.resume_button, offer.discard_button, offer.later_button)] == [
        "Resume", "Discard…", "Later"]
    offer.resume_button.click()  # opens Train a LoRA on the run, which goes on from its checkpoint
    again = window.lora_wizard
    assert not notice.dialog.isVisible() and again.isVisible() and again.currentPage() is again.monitor_page
    # The pages hold the settings the run was started with.
    assert again.dataset_page.folder_edit.text() == str(sounds) and again.dataset_page.trigger_edit.text() == "blip"
    assert (again.training_page.rank_spin.value(), again.training_page.lr_spin.value()) == (2, 0.05)
    assert again.output_page.name_edit.text() == "blip"
    with qtbot.waitSignal(again.lora_trained, timeout=180000) as trained:
        pass  # the run's events arrive through the event loop: none has yet
    entry = trained.args[0]
    assert entry.name == "blip" and entry.steps == 6
    assert again.monitor_page.steps == list(range(step + 1, 7))  # from the checkpoint on, not from step 1
    qtbot.waitUntil(lambda: again.run_offers.scanned, timeout=30000)
    assert again.run_offers.visible() == []  # the wizard's own scan does not offer the run it is finishing
    client.wait_for_tasks()
    window.close()

    # Finished: not offered again, even had the app died between writing the LoRA and forgetting the run.
    remember_run(settings, "lora", job)
    third, _g = make_wizard(qtbot, client, tiny_model, settings, tmp_path)
    qtbot.waitUntil(lambda: third.run_offers.scanned, timeout=30000)
    assert third.run_offers.visible() == [] and settings.get(RUNS_KEY) == []

    # A new run starts from the settings stored in that LoRA.
    qtbot.waitUntil(lambda: third.training_page.from_lora_combo.count() == 2, timeout=30000)
    page = third.training_page
    page.rank_spin.setValue(16)
    assert page.apply_lora_settings(third.training_page.from_lora_combo.itemData(1))
    assert (page.rank_spin.value(), page.alpha_spin.value(), page.lr_spin.value(), page.length_spin.value()) == (2, 4.0, 0.05, 6)
    assert third.dataset_page.trigger_edit.text() == "blip"
    assert third.dataset_page.height_spin.value() == 64


def test_the_rank_box_stops_at_the_base_models_largest_useful_rank(qtbot, client, tiny_model, settings, tmp_path):
    """A rank above the widest layer the LoRA adapts adds nothing: the box stops there for the
    chosen base model (the tiny model's attention layers are 32 wide, the starter's 64), follows a
    change of base model and says why; the engine would refuse more."""
    from engine.models.catalog import STARTER_MODEL_ID

    wizard, _generation = make_wizard(qtbot, client, tiny_model, settings, tmp_path)
    rank = wizard.training_page.rank_spin
    qtbot.waitUntil(lambda: rank.maximum() == 32, timeout=60000)  # read from the model's configs off the GUI thread
    assert "At most 32 for tiny-sd: the widest layer the LoRA adapts there is 32 wide" in rank.toolTip()
    rank.setValue(200)
    assert rank.value() == 32
    with qtbot.waitSignal(wizard.rank_limit_found, timeout=60000) as found:
        wizard.dataset_page.set_model(STARTER_MODEL_ID)
    assert found.args == [64] and rank.maximum() == 64 and "At most 64 for " in rank.toolTip()
    rank.setValue(200)
    assert rank.value() == 64 and wizard.training_page.settings()["rank"] == 64
    with qtbot.waitSignal(wizard.rank_limit_found, timeout=60000) as found:
        wizard.dataset_page.set_model(tiny_model)
    assert found.args == [32] and rank.value() == 32  # lowered with the model
    with qtbot.waitSignal(wizard.rank_limit_found, timeout=60000) as found:
        wizard.dataset_page.set_model(str(tmp_path / "no-such-model"))
    assert found.args == [0] and rank.maximum() == 256  # unknown: the dataset read says what is wrong


def test_the_length_is_the_count_the_base_models_card_recommends_and_says_so(
        qtbot, client, tiny_model, settings, tmp_path):
    """The CPU preset's length follows the base model (starter model 2's card: 1200 steps, the first
    starter's 900; a model without a card: the preset's own), the line under it says which and why;
    a length the user typed stays when the model changes, until a preset is chosen again."""
    from engine.models.catalog import STARTER2_MODEL_ID, STARTER_MODEL_ID

    wizard, _generation = make_wizard(qtbot, client, tiny_model, settings, tmp_path)
    page, training = wizard.dataset_page, wizard.training_page
    page.folder_edit.setText(str(tmp_path))  # (a job needs sounds; none is run)
    page.set_model(STARTER2_MODEL_ID)
    training.choose_preset("cpu-starter")
    assert training.length_spin.value() == 1200 and training.settings()["max_steps"] == 1200
    assert training.length_why_label.text() == "1200 steps: recommended for the cpu-starter preset by Starter model 2's card"
    page.set_model(STARTER_MODEL_ID)
    assert training.length_spin.value() == 900
    assert training.length_why_label.text() == "900 steps: recommended for the cpu-starter preset by Starter model's card"
    page.set_model(tiny_model)
    assert training.length_spin.value() == 900
    assert training.length_why_label.text() == "900 steps: the cpu-starter preset's own"
    page.set_model(STARTER2_MODEL_ID)
    training.length_spin.setValue(1000)  # the user's own count wins over any card
    page.set_model(STARTER_MODEL_ID)
    assert training.length_spin.value() == 1000 and wizard.make_job().num_steps == 1000
    assert training.length_why_label.text() == (
        "Your own length (the preset's: 900 steps: recommended for the cpu-starter preset by Starter model's card)")
    training.preset_combo.activated.emit(training.preset_combo.findData("cpu-starter"))  # the preset chosen again
    assert training.length_spin.value() == 900 and training.length_source == "preset"
    assert wizard.make_job().num_steps == 900  # the job trains what the page shows
    page.set_model(STARTER2_MODEL_ID)
    assert wizard.make_job().num_steps == 1200
    wizard.output_page.initializePage()  # the last page, before Train, says it too
    assert wizard.output_page.run_label.text() == (
        "Train runs 1200 steps (recommended for the cpu-starter preset by Starter model 2's card). "
        "Not estimated: go Back to estimate its time and memory.")


def test_tools_menu_opens_one_wizard_that_starts_from_the_window_model(qtbot, window, tiny_model):
    window.prompt_panel.set_model(tiny_model)
    tools = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Tools")
    (action,) = [a for a in tools.actions() if a.text() == "Train a &LoRA…"]
    action.trigger()
    wizard = window.lora_wizard
    assert wizard.isVisible() and wizard.dataset_page.model_id() == tiny_model
    assert wizard.generation is window.generation and wizard.project is window.project
    assert window.open_lora_wizard() is wizard  # one per window
    assert window.prompt_panel.lora_picker.cache_dir == window.client.settings.cache_dir
    qtbot.waitUntil(lambda: bool(wizard.training_page.cpu_preset()), timeout=60000)
    # Clips of the open project join the dataset: the selected one's audible part, its prompt as caption.
    from app.model.commands import AddClip
    from app.model.project import Clip, Selection
    from engine.api import Recipe

    t = np.arange(int(2.0 * RATE)) / RATE
    tone = Clip(name="hum", audio=(0.4 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None], sample_rate_hz=RATE,
                offset_s=0.5, recipe=Recipe(task="generate", params={"prompt": "a deep hum"}))
    window.undo_stack.push_command(AddClip(window.project, window.project.tracks[0].id, tone))
    window.project.set_selection(Selection(clip_ids={tone.id}))
    wizard.dataset_page.add_clips_button.click()
    assert wizard.dataset_page.clips_label.text() == "1 clips"
    dataset = fill_dataset(qtbot, wizard, None)
    (example,) = dataset.examples
    assert example.caption == "zorb, a deep hum" and example.name.startswith("hum (")
    # The training page starts from the preset for this machine's memory (found off the GUI
    # thread; here a CPU machine) unless the model is the starter; as if it had an 8 GB GPU:
    window.client.wait_for_tasks()
    assert wizard.training_page.machine_preset == "cpu-starter"
    wizard.training_page.set_machine_preset("gpu-8gb")
    wizard.next()
    training = wizard.training_page
    assert training.preset_combo.currentData() == "gpu-8gb" and training.device_combo.currentText() == "cuda"
    assert training.precision_combo.currentText() == "fp16" and training.checkpointing_check.isChecked()
    wizard.close()


def test_the_gui_thread_only_turns_small_thumbnails_into_pixmaps(qtbot, client, tiny_model, settings, sounds, tmp_path,
                                                                  monkeypatch):
    """Validation samples (here eight of SD 1.5's 512 x 512) and the dataset's spectrograms are
    decoded and scaled on helper threads; the GUI thread's image work per sample is two pixmaps of
    at most the thumbnail's size, whatever the model's image size (by construction, not by a clock)."""
    import threading
    from types import SimpleNamespace

    from app.widgets import lora_wizard

    gui = threading.get_ident()
    scaled, pixmaps = [], []
    real_thumbnail, real_pixmap = lora_wizard.thumbnail_image, lora_wizard.thumbnail_pixmap

    def thumbnail_image(image, *args):
        scaled.append((threading.get_ident(), image.shape))
        return real_thumbnail(image, *args)

    def thumbnail_pixmap(thumbnail):
        pixmaps.append((threading.get_ident(), thumbnail.width(), thumbnail.height()))
        return real_pixmap(thumbnail)

    monkeypatch.setattr(lora_wizard, "thumbnail_image", thumbnail_image)
    monkeypatch.setattr(lora_wizard, "thumbnail_pixmap", thumbnail_pixmap)
    wizard, _generation = make_wizard(qtbot, client, tiny_model, settings, tmp_path)
    fill_dataset(qtbot, wizard, sounds)
    assert len(scaled) == 4 and all(thread != gui for thread, _shape in scaled)
    assert len(pixmaps) == 4 and all(thread == gui for thread, _w, _h in pixmaps)

    scaled.clear(), pixmaps.clear()
    rng = np.random.default_rng(0)
    samples = tuple(SimpleNamespace(step=5, prompt="zorb", seed=seed, sample_rate_hz=RATE,
                                    image=rng.integers(0, 255, (512, 512, 3), dtype=np.uint8),
                                    base_image=rng.integers(0, 255, (512, 512, 3), dtype=np.uint8),
                                    audio=np.zeros((1, 100), np.float32), base_audio=np.zeros((1, 100), np.float32))
                    for seed in range(8))
    monitor = wizard.monitor_page
    monitor._on_progress(SimpleNamespace(stage="sample", message="8 samples at step 5", step=5, total=10,
                                         samples=samples))
    assert pixmaps == []  # nothing drawn yet: the thumbnails are being made elsewhere
    qtbot.waitUntil(lambda: len(monitor.sample_buttons()) == 16, timeout=30000)
    assert len(scaled) == 16 and all(thread != gui and shape == (512, 512, 3) for thread, shape in scaled)
    thumb = lora_wizard.THUMB
    assert len(pixmaps) == 16 and all(thread == gui and w <= thumb.width() and h <= thumb.height()
                                      for thread, w, h in pixmaps)
    monitor.sample_buttons()[3].click()  # still plays the sample's own audio
    assert wizard.player.loaded[-1][0] is samples[1].base_audio or np.array_equal(wizard.player.loaded[-1][0],
                                                                                   samples[1].base_audio)


def test_a_run_on_project_clips_resumes_after_a_restart(qtbot, client, tiny_model, settings, tmp_path):
    """Clips of the open project live in memory: the engine keeps them in the run's folder, so a run
    cut short resumes from its checkpoint in a new wizard (after a restart) on the same sounds (the
    checkpoint's dataset fingerprint matches, or the resume would be refused)."""
    from engine.training.lora_library import load_clips

    wizard, _generation = make_wizard(qtbot, client, tiny_model, settings, tmp_path)
    t = np.arange(int(1.5 * RATE)) / RATE
    page = wizard.dataset_page
    page.clips = [(f"clip {i} (abc{i})", (0.4 * np.sin(2 * np.pi * (330 + 70 * i) * t))[None].astype(np.float32), RATE)
                  for i in range(4)]
    page.typed["clip 1 (abc1)"] = "a bright beep"
    fill_dataset(qtbot, wizard, None, trigger="blop")
    wizard.next()
    fill_training(wizard.training_page, steps=4, checkpoint_every=1, sample_every=0)
    wizard.next()
    wizard.output_page.name_edit.setText("blop")
    monitor = wizard.monitor_page
    wizard.run_started.connect(lambda handle: handle.progressed.connect(
        lambda p: monitor.cancel_button.click() if p.stage == "checkpoint" and p.step >= 2 else None))
    with qtbot.waitSignal(wizard.run_started, timeout=10000):
        wizard.next()
    handle = monitor.handle
    qtbot.waitUntil(lambda: handle.is_done, timeout=120000)
    assert handle.state == "cancelled" and wizard.has_checkpoint()
    assert monitor.resume_button.isVisibleTo(monitor) and "resume from it" in monitor.status_label.text()
    (record,) = settings.get(RUNS_KEY)
    saved = record["fields"]
    assert record["kind"] == "lora" and saved["clips_kept"] and saved["data_dir"] is None
    kept = load_clips(saved["output_dir"])
    assert [c.name for c in kept] == [name for name, _a, _r in page.clips]
    for clip_, (_name, audio, _rate) in zip(kept, page.clips):
        np.testing.assert_array_equal(clip_.audio, audio)  # bit for bit
    wizard.close()

    again, _g = make_wizard(qtbot, client, tiny_model, settings, tmp_path)
    qtbot.waitUntil(lambda: again.run_offers.scanned, timeout=30000)
    (offer,) = again.run_offers.visible()  # offered although the run had no folder of sounds
    with qtbot.waitSignal(again.lora_trained, timeout=180000) as trained:
        offer.resume_button.click()
        assert again.dataset_page.clips_label.text() == "4 clips"
    assert trained.args[0].name == "blop" and trained.args[0].steps == 4
    assert again.monitor_page.steps[0] >= 3  # went on from its checkpoint (step 2 or later)
    assert "blop, a bright beep" in trained.args[0].dataset["captions"]
    assert settings.get(RUNS_KEY) == []



def test_a_new_run_named_as_an_unfinished_one_goes_into_a_new_folder_and_leaves_its_checkpoints(
        qtbot, client, make_client, tiny_model, settings, sounds, tmp_path):
    wizard, _generation = make_wizard(qtbot, client, tiny_model, settings, tmp_path)
    to_the_output_page(qtbot, wizard, sounds, "blip", steps=100, checkpoint_every=1, sample_every=0)
    saved = []
    wizard.run_started.connect(lambda handle: handle.progressed.connect(
        lambda p: saved.append(p.step) if p.stage == "checkpoint" else None))
    with qtbot.waitSignal(wizard.run_started, timeout=10000):
        wizard.next()
    qtbot.waitUntil(lambda: bool(saved), timeout=120000)
    old = wizard.job
    close_the_app(qtbot, wizard, client)
    step, _folder = old.latest_checkpoint()
    assert step < 100 and not Path(old.output).exists()  # unfinished
    before = sorted(p.name for p in (Path(old.output_dir) / "checkpoints").iterdir())

    client = make_client()
    again, _g = make_wizard(qtbot, client, tiny_model, settings, tmp_path)
    to_the_output_page(qtbot, again, sounds, "blip", steps=2, checkpoint_every=0, sample_every=0)  # a new, shorter run
    assert again.output_page.path_label.text() == str(tmp_path / "loras" / "blip-2.safetensors")
    with qtbot.waitSignal(again.lora_trained, timeout=180000) as trained:
        again.next()  # "Train": no question, nothing of the unfinished run is touched
    assert again.start_over_box is None and trained.args[0].name == "blip-2"
    assert sorted(p.name for p in (Path(old.output_dir) / "checkpoints").iterdir()) == before
    assert old.latest_checkpoint()[0] == step  # still offered, still resumable
    client.wait_for_tasks()


def test_the_wizard_offers_both_starters_by_name_and_starts_from_the_default(qtbot, window):
    """Its model list began with a plain "Starter model" (the first starter) even though a fresh
    install generates with starter model 2: the two starters are listed by their own names, the
    default first and picked, with the CPU preset."""
    from engine.models.catalog import STARTER2_MODEL_ID, STARTER_MODEL_ID, model_hints

    qtbot.waitUntil(lambda: window.prompt_panel.model_combo.count() > 0, timeout=30000)
    wizard = window.open_lora_wizard()
    combo = wizard.dataset_page.model_combo
    assert [combo.itemData(i) for i in range(2)] == [STARTER2_MODEL_ID, STARTER_MODEL_ID]
    assert [combo.itemText(i) for i in range(2)] == [model_hints(STARTER2_MODEL_ID).title, model_hints(STARTER_MODEL_ID).title]
    assert combo.currentData() == STARTER2_MODEL_ID == window.prompt_panel.model_id()
    qtbot.waitUntil(lambda: wizard.training_page.preset_combo.currentData() == "cpu-starter", timeout=30000)
    wizard.close()
