"""Train a Picture Model (issue 16 part 2) driven as a user would: a folder with a video, a
(sound, picture) pair and a file of another kind -> "Read the folder" lists what training uses and
what it skips -> a run on the engine worker, watched on the LoRA wizard's monitoring page (a loss
per step, a checkpoint, the pictures drawn for training sounds beside the base model's) -> the
picture model folder, handed to Picture from Audio."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from PIL import Image
from test_edit_tools import run_and_wait
from test_pictures_in_app import pictures_window  # noqa: F401 - a fixture

from app.widgets.picture_wizard import PictureWizard
from engine.pictures.model import load_picture_model

RATE = 22050


def write_video(path, seconds=3, fps=8):
    """Red frames with a 330 Hz tone (mpeg4 + AAC)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = out.add_stream("aac", rate=RATE)
        audio.layout = "mono"
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), (200, 40, 40), np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        tone = (0.3 * np.sin(2 * np.pi * 330 * np.arange(seconds * RATE) / RATE)).astype(np.float32)
        for k in range(0, tone.size, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, k : k + 1024], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = RATE, k
            out.mux(audio.encode(chunk))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


def test_a_folder_of_videos_and_pairs_to_a_picture_model_watched_while_it_trains(qtbot, client, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    write_video(folder / "street.mp4")
    t = np.arange(2 * RATE) / RATE
    sf.write(str(folder / "hum.wav"), 0.3 * np.sin(2 * np.pi * 110 * t), RATE)
    Image.new("RGB", (80, 64), (30, 30, 200)).save(folder / "hum.png")
    (folder / "notes.txt").write_text("shot on my phone\n")
    used = []
    wizard = PictureWizard(client, use_model=used.append)
    qtbot.addWidget(wizard)
    wizard.show()

    pairs = wizard.pairs_page
    pairs.folder_edit.setText(str(folder))
    assert not pairs.isComplete()
    with qtbot.waitSignal(wizard.folder_read, timeout=60000):
        pairs.read_button.click()  # on a helper thread
    assert pairs.isComplete()
    assert pairs.summary_label.text().startswith("1 pair, 1 video, 1 file skipped")
    assert [pairs.skipped_list.item(i).text() for i in range(pairs.skipped_list.count())] == [
        "Skipped notes.txt: not a sound, a picture or a video"]

    wizard.next()
    settings = wizard.settings_page
    assert settings.output_edit.text() == str(tmp_path / "mine-picture-model")
    settings.steps_spin.setValue(4)
    settings.checkpoint_spin.setValue(2)
    settings.batch_spin.setValue(2)
    with qtbot.waitSignal(wizard.picture_model_trained, timeout=300000) as trained:
        wizard.next()  # "Train": the run goes to the engine worker
        assert wizard.currentPage() is wizard.monitor_page
    monitor = wizard.monitor_page
    assert trained.args[0] == str(tmp_path / "mine-picture-model")
    assert monitor.steps == [1, 2, 3, 4] and all(np.isfinite(monitor.losses))
    assert "step 2" in monitor.checkpoint_label.text()
    qtbot.waitUntil(lambda: len(monitor.sample_buttons()) == 4, timeout=30000)  # thumbnails: a helper thread
    assert [s.prompt for s in monitor.samples] == ["hum.wav", "street.mp4 at 1.5 s"]
    assert monitor.samples[1].audio.shape[0] == 1
    assert "being trained" in [monitor.samples_grid.itemAt(i).widget().text() for i in range(3)]
    assert "Done: trained on 4 pairs (3 from videos)" in monitor.status_label.text()
    assert "1 file skipped" in monitor.status_label.text()
    assert monitor.isComplete()
    monitor.apply_button.click()
    assert used == [trained.args[0]]
    load_picture_model(used[0])  # what Picture from Audio will load


def test_the_picture_tab_opens_the_wizard_and_takes_the_model_it_trains(window, tmp_path):
    from app.edit_tools import install_edit_tools

    tools = install_edit_tools(window, autosave_dir=tmp_path / "autosave", check_recovery=False)
    try:
        form = tools.edit_panel.forms["illustrate"]
        form.train.click()
        wizard = form.wizard
        assert isinstance(wizard, PictureWizard) and wizard.isVisible() and wizard.parent() is window
        assert wizard.pairs_page.model_id() == "builtin:pictures"  # the tab's starter picture model
        form.train.click()
        assert form.wizard is wizard  # one wizard: a run goes on while it is hidden
        wizard.use_model(str(tmp_path / "mine-picture-model"))  # what "Use it for Picture from Audio" does
        assert form.params()["model"] == str(tmp_path / "mine-picture-model")
    finally:
        tools.shutdown()


def pairs_folder(tmp_path):
    """Two (sound, picture) pairs: the quickest folder to train on."""
    folder = tmp_path / "pairs"
    folder.mkdir()
    t = np.arange(2 * RATE) / RATE
    for name, hz, colour in (("hum", 110, (30, 30, 200)), ("beep", 880, (220, 200, 40))):
        sf.write(str(folder / f"{name}.wav"), 0.3 * np.sin(2 * np.pi * hz * t), RATE)
        Image.new("RGB", (64, 64), colour).save(folder / f"{name}.png")
    return folder


def open_wizard(qtbot, client, settings):
    wizard = PictureWizard(client, settings=settings)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitUntil(lambda: wizard.run_offers.scanned, timeout=30000)  # unfinished runs: looked for off the GUI thread
    return wizard


def read_the_folder(qtbot, wizard, folder):
    """Pick ``folder`` on the first page, read it, and go on to the Training page (returned)."""
    pairs = wizard.pairs_page
    pairs.folder_edit.setText(str(folder))
    with qtbot.waitSignal(wizard.folder_read, timeout=60000):
        pairs.read_button.click()
    wizard.next()
    return wizard.settings_page


def start_and_close_the_app(qtbot, client, settings, folder, *, steps, checkpoint_every, stop_at, sd=False):
    """Train on ``folder`` (an audio adapter for the tiny SD model with ``sd``) until a checkpoint
    after ``stop_at`` steps, then quit as the app does (the window goes, the engine client cancels
    its jobs). Returns the run's spec and its last checkpoint's step."""
    wizard = open_wizard(qtbot, client, settings)
    page = choose_sd_base(qtbot, wizard, folder) if sd else read_the_folder(qtbot, wizard, folder)
    page.steps_spin.setValue(steps)
    page.checkpoint_spin.setValue(checkpoint_every)
    page.batch_spin.setValue(2)
    page.seed_spin.setValue(7)
    checkpoints = []
    wizard.run_started.connect(lambda handle: handle.progressed.connect(
        lambda p: checkpoints.append(p.step) if getattr(p, "checkpoint", None) else None))
    with qtbot.waitSignal(wizard.run_started, timeout=10000):
        wizard.next()
    qtbot.waitUntil(lambda: any(step >= stop_at for step in checkpoints), timeout=300000)
    job = wizard.job
    wizard.close()
    client.shutdown()
    step, _folder = job.latest_checkpoint()
    assert stop_at <= step < steps and not any((Path(job.output_dir) / name).exists()
                                               for name in ("picture_model.json", "audio_adapter.json"))
    return job, step


def test_a_run_cut_short_by_closing_the_app_is_offered_when_it_opens_and_goes_on_from_its_checkpoint(
        qtbot, client, make_client, settings, tmp_path):
    job, step = start_and_close_the_app(qtbot, client, settings, pairs_folder(tmp_path), steps=6, checkpoint_every=2,
                                        stop_at=2)
    client = make_client()  # the app opens again: its window says so, by name and step
    from app.main_window import MainWindow

    window = MainWindow(client, settings)
    window.ask_before_closing = False
    qtbot.addWidget(window)
    window.show()
    notice = window.unfinished_runs
    qtbot.waitUntil(lambda: notice.dialog.isVisible(), timeout=30000)  # looked for off the GUI thread
    (offer,) = notice.visible()
    assert offer.label.text() == (f"The picture model 'pairs-picture-model' did not finish: it stopped after step {step} "
                                  "of 6 and can go on from that checkpoint.")
    offer.resume_button.click()  # opens the Picture tab's wizard on the run
    again = window.edit_tools.edit_panel.forms["illustrate"].wizard
    assert again.isVisible() and again.currentPage() is again.monitor_page and not notice.dialog.isVisible()
    # The pages show the run's own settings (not the wizard's defaults).
    assert again.settings_page.steps_spin.value() == 6 and again.settings_page.seed_spin.value() == 7
    assert again.pairs_page.folder_edit.text() == str(tmp_path / "pairs")
    with qtbot.waitSignal(again.picture_model_trained, timeout=300000) as trained:
        pass  # the run's events come through the event loop: none has yet
    assert trained.args[0] == job.output_dir
    assert again.monitor_page.steps == list(range(step + 1, 7))  # from the checkpoint, not from step 1
    load_picture_model(trained.args[0])
    client.wait_for_tasks()
    window.close()
    # Finished: not offered again, even had the app died between writing the model and forgetting the run.
    from app.widgets.lora_wizard_runs import RUNS_KEY, remember_run

    remember_run(settings, "pictures", job)
    third = open_wizard(qtbot, client, settings)
    assert third.run_offers.visible() == [] and settings.get(RUNS_KEY) == []


def test_discarding_an_unfinished_run_asks_first_and_deletes_only_its_checkpoints(
        qtbot, client, make_client, settings, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    from app.widgets.lora_wizard_runs import RUNS_KEY

    folder = pairs_folder(tmp_path)
    output = tmp_path / "pairs-picture-model"
    output.mkdir()
    (output / "my notes.txt").write_text("mine\n")  # the user's file in the folder chosen for the model
    job, step = start_and_close_the_app(qtbot, client, settings, folder, steps=4, checkpoint_every=1, stop_at=1)
    client = make_client()
    again = open_wizard(qtbot, client, settings)
    (offer,) = again.run_offers.visible()
    offer.later_button.click()  # later: hidden now, offered next time, nothing deleted
    assert again.run_offers.visible() == [] and job.latest_checkpoint() is not None
    again.close()

    third = open_wizard(qtbot, client, settings)
    (offer,) = third.run_offers.visible()
    offer.discard_button.click()
    box = offer.confirm_box
    assert box.isVisible() and "pairs-picture-model" in box.text() and "cannot be resumed" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()  # changed their mind: nothing deleted
    assert job.latest_checkpoint() == (step, output / "checkpoints" / f"step-{step:08d}")
    offer.discard_button.click()
    offer.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: bool(third.run_offers.discarded), timeout=30000)  # deleted off the GUI thread
    assert not (output / "checkpoints").exists() and third.run_offers.visible() == []
    assert sorted(p.name for p in output.iterdir()) == ["my notes.txt"]  # only the run's files went
    assert sorted(p.name for p in folder.iterdir()) == ["beep.png", "beep.wav", "hum.png", "hum.wav"]
    assert settings.get(RUNS_KEY) == []
    fourth = open_wizard(qtbot, client, settings)
    assert fourth.run_offers.visible() == []


def test_a_new_run_where_an_unfinished_one_stopped_asks_first_cancel_start_over_or_resume(
        qtbot, client, make_client, settings, tmp_path):
    folder = pairs_folder(tmp_path)
    old, old_step = start_and_close_the_app(qtbot, client, settings, folder, steps=6, checkpoint_every=1, stop_at=1)
    checkpoints = Path(old.output_dir) / "checkpoints"
    (checkpoints / "notes.txt").write_text("the first try\n")  # the user's: no run's to delete
    client = make_client()

    def new_run_asks(wizard, *, steps=None, seed=None):
        """Fill the pages as a user would (a new run: other steps and seed) and press Train."""
        page = read_the_folder(qtbot, wizard, folder)
        assert page.output_edit.text() == old.output_dir  # the same folder as the unfinished run
        page.steps_spin.setValue(steps or page.steps_spin.value())
        page.seed_spin.setValue(seed or page.seed_spin.value())
        page.checkpoint_spin.setValue(1)
        page.batch_spin.setValue(2)
        wizard.next()  # "Train"
        box = wizard.start_over_box
        assert box.isVisible() and wizard.currentPage() is page
        return box

    wizard = open_wizard(qtbot, client, settings)
    started, messages, saved = [], [], []
    wizard.run_started.connect(started.append)
    wizard.run_started.connect(lambda handle: handle.progressed.connect(
        lambda p: (messages.append(p.message), saved.append(p.step) if getattr(p, "checkpoint", None) else None)))
    box = new_run_asks(wizard, steps=5, seed=3)
    assert box.text().startswith(f"The picture model 'pairs-picture-model' did not finish: it stopped after step "
                                 f"{old_step}, and this run would go into its folder {old.output_dir}.")
    assert [b.text() for b in (box.resume_button, box.start_over_button)] == [
        "Resume that run", "Start over (deletes its checkpoints)"]
    box.cancel_button.click()  # Cancel: nothing starts, nothing is deleted
    assert wizard.currentPage() is wizard.settings_page and started == [] and wizard.start_over_box is None
    assert old.latest_checkpoint()[0] == old_step and (checkpoints / "notes.txt").is_file()

    wizard.next()  # "Train" again: asked again; Start over runs the new settings and deletes the old run's checkpoints
    with qtbot.waitSignal(wizard.run_started, timeout=10000):
        wizard.start_over_box.start_over_button.click()
    monitor = wizard.monitor_page
    assert wizard.currentPage() is monitor and wizard.job.num_steps == 5 and not wizard.job.resume
    qtbot.waitUntil(lambda: bool(saved), timeout=300000)
    monitor.cancel_button.click()  # stopped after its first checkpoint or so
    qtbot.waitUntil(lambda: monitor.handle.is_done, timeout=60000)
    new_step = wizard.job.latest_checkpoint()[0]
    assert 1 <= new_step < 5
    assert any(m.startswith("Deleted") and m.endswith("this new run starts from step 0") for m in messages)
    assert sorted(p.name for p in checkpoints.iterdir()) == ["notes.txt", *(f"step-{s:08d}" for s in range(1, new_step + 1))]
    assert (checkpoints / "notes.txt").read_text() == "the first try\n"
    wizard.close()

    # Another new run there (the pages' own settings): Resume goes on with the stopped run, its own
    # settings and its checkpoint.
    again = open_wizard(qtbot, client, settings)
    box = new_run_asks(again)
    assert f"it stopped after step {new_step}," in box.text()
    with qtbot.waitSignal(again.picture_model_trained, timeout=300000):
        box.resume_button.click()
    assert again.job.resume and again.job.seed == 3 and again.settings_page.steps_spin.value() == 5
    assert again.monitor_page.steps == list(range(new_step + 1, 6))  # from its checkpoint, not from step 1
    assert (checkpoints / "notes.txt").is_file()
    client.wait_for_tasks()


# -- an audio adapter for an SD base (engine.pictures.adapter) ----------------------------------


def choose_sd_base(qtbot, wizard, folder, *, size=64):
    """Type the tiny SD model as the base (as a user types a folder), small pictures, and read ``folder``."""
    from assets.make_tiny_sd import TINY_SD_DIR

    pairs = wizard.pairs_page
    pairs.model_combo.setEditText(str(TINY_SD_DIR))
    assert pairs.adapter_box.isVisible() and pairs.is_adapter()
    pairs.size_spin.setValue(size)
    return read_the_folder(qtbot, wizard, folder)


def test_an_sd_base_shows_the_adapter_settings_and_a_template_without_audio_is_refused(qtbot, client, settings, tmp_path):
    from app.engine_client import ModelEntry, ModelListing

    wizard = open_wizard(qtbot, client, settings)
    pairs = wizard.pairs_page
    assert pairs.model_id() == "builtin:pictures" and not pairs.adapter_box.isVisible()
    # The Picture tab's image models (downloaded, drawing pictures) are offered as bases; CLAP from the cache hears.
    client.models_listed.emit(ModelListing((
        ModelEntry("stable-diffusion-v1-5/stable-diffusion-v1-5", "SD 1.5", "catalog", True, tasks=("illustrate",)),
        ModelEntry("CompVis/stable-diffusion-v1-4", "SD 1.4", "catalog", False, tasks=("illustrate",)),
        ModelEntry("riffusion/riffusion-model-v1", "Riffusion", "catalog", True, tasks=("generate",)),
        ModelEntry("laion/clap-htsat-unfused", "laion/clap-htsat-unfused", "cached", True, is_pipeline=False),
    ), "builtin:starter"))
    combo = pairs.model_combo
    assert [combo.itemData(i) for i in range(combo.count())] == [
        "builtin:pictures", "stable-diffusion-v1-5/stable-diffusion-v1-5"]
    assert combo.itemText(1) == "SD 1.5 (audio adapter)"
    assert pairs.model_id() == "builtin:pictures" and not pairs.adapter_box.isVisible()  # the choice is kept
    settings_page = wizard.settings_page
    assert (settings_page.batch_spin.value(), settings_page.lr_spin.value()) == (8, 5e-4)

    combo.setCurrentIndex(1)  # an SD base: the page shows the adapter's settings, each saying what it does
    assert pairs.adapter_box.isVisible() and "audio adapter" in pairs.subTitle()
    assert "GPU" in combo.toolTip() and "slow" in combo.toolTip() and "GPU" in pairs.adapter_box.toolTip()
    assert pairs.template_edit.text() == "a photo of <audio>" and "<audio>" in pairs.template_edit.toolTip()
    assert pairs.size_spin.value() == 512 and "CPU" in pairs.size_spin.toolTip()
    assert "pseudo-words" in pairs.tokens_spin.toolTip() and "CLAP" in pairs.encoder_combo.toolTip()
    encoders = pairs.encoder_combo
    assert [encoders.itemData(i) for i in range(encoders.count())] == ["builtin:pictures", "laion/clap-htsat-unfused"]
    assert (settings_page.batch_spin.value(), settings_page.lr_spin.value()) == (1, 1e-4)  # the adapter's defaults

    from app.widgets import picture_wizard
    from engine.pictures.illustrate import ADAPTER_PLACEHOLDER

    assert picture_wizard.ADAPTER_PLACEHOLDER == ADAPTER_PLACEHOLDER  # what the engine puts the sound in for
    pairs.template_edit.setText("a photo of a dog")  # no <audio>: refused on this page, before anything starts
    assert pairs.template_error.isVisible()
    assert pairs.template_error.text() == ("The prompt template needs <audio> where the sound goes, for example "
                                           "'a photo of <audio>'.")
    read_the_folder(qtbot, wizard, pairs_folder(tmp_path))  # reads, then Next: refused
    assert wizard.currentPage() is pairs and not pairs.isComplete()
    assert wizard.job is None and not client.is_busy
    pairs.template_edit.setText("a photo of a dog making <audio>")
    assert not pairs.template_error.isVisible() and pairs.isComplete()
    wizard.next()
    assert wizard.currentPage() is settings_page
    assert settings_page.output_edit.text() == str(tmp_path / "pairs-audio-adapter")
    job = wizard.make_job()
    assert (job.base, job.template, job.size, job.tokens, job.audio_encoder, job.batch_size) == (
        "stable-diffusion-v1-5/stable-diffusion-v1-5", "a photo of a dog making <audio>", 512, 1, "builtin:pictures", 1)

    wizard.back()
    combo.setCurrentIndex(0)  # back to a picture model: its own settings again, the adapter's hidden
    assert not pairs.adapter_box.isVisible() and pairs.isComplete()
    assert (settings_page.batch_spin.value(), settings_page.lr_spin.value()) == (8, 5e-4)
    wizard.next()
    assert settings_page.output_edit.text() == str(tmp_path / "pairs-picture-model")


def test_an_sd_base_trains_an_audio_adapter_watched_paused_resumed_and_drawn_by_illustrate(
        qtbot, client, settings, tmp_path, capsys):
    from engine.cli import main
    from engine.pictures.png import read_png_recipe

    used = []
    wizard = open_wizard(qtbot, client, settings)
    wizard.use_model = used.append
    page = choose_sd_base(qtbot, wizard, pairs_folder(tmp_path))
    wizard.pairs_page.tokens_spin.setValue(2)
    assert page.output_edit.text() == str(tmp_path / "pairs-audio-adapter")
    page.steps_spin.setValue(6)
    page.checkpoint_spin.setValue(2)
    page.batch_spin.setValue(2)
    page.lr_spin.setValue(1e-3)
    saved = []
    wizard.run_started.connect(lambda handle: handle.progressed.connect(
        lambda p: saved.append(p.step) if getattr(p, "checkpoint", None) else None))
    with qtbot.waitSignal(wizard.run_started, timeout=10000):
        wizard.next()  # "Train"
    monitor = wizard.monitor_page
    qtbot.waitUntil(lambda: bool(saved), timeout=300000)
    monitor.pause_button.click()  # paused between steps, SD kept loaded
    qtbot.waitUntil(lambda: monitor.pause_button.text() == "Resume", timeout=60000)
    assert monitor.status_label.text().startswith("Paused at step")
    monitor.pause_button.click()
    assert monitor.pause_button.text() == "Pause"
    monitor.cancel_button.click()  # stopped after a checkpoint: Resume from the last checkpoint goes on
    qtbot.waitUntil(lambda: monitor.handle.is_done, timeout=60000)
    step, _folder = wizard.job.latest_checkpoint()
    assert 2 <= step < 6 and monitor.resume_button.isVisible()
    with qtbot.waitSignal(wizard.picture_model_trained, timeout=300000) as trained:
        monitor.resume_button.click()
    out = tmp_path / "pairs-audio-adapter"
    assert trained.args[0] == str(out) and (out / "audio_adapter.json").is_file()
    assert monitor.steps == list(range(step + 1, 7)) and all(np.isfinite(monitor.losses))  # the loss curve
    assert list(monitor.train_curve.getData()[1]) == monitor.losses
    assert monitor.status_label.text().startswith(
        f"Done: trained an audio adapter for {wizard.job.base} on 2 pairs")
    qtbot.waitUntil(lambda: len(monitor.sample_buttons()) == 4, timeout=30000)  # pictures at the last checkpoint
    assert [s.prompt for s in monitor.samples] == ["beep.wav", "hum.wav"]
    assert monitor.samples[0].image.shape == (64, 64, 3)
    headings = [monitor.samples_grid.itemAt(i).widget().text() for i in range(3)]
    assert "being trained" in headings and "before training" in headings  # the untrained adapter's pictures
    monitor.apply_button.click()  # "Use it for Picture from Audio"
    assert used == [str(out)]

    config = json.loads((out / "audio_adapter.json").read_text())["config"]
    assert (config["tokens"], config["template"]) == (2, "a photo of <audio>")
    sound = tmp_path / "hum.wav"
    sf.write(str(sound), 0.3 * np.sin(2 * np.pi * 220 * np.arange(2 * RATE) / RATE), RATE)
    capsys.readouterr()
    assert main(["illustrate", str(sound), "-o", str(tmp_path / "art.png"), "--model", str(out), "--steps", "2",
                 "--size", "64", "--variations", "1", "--offline", "--device", "cpu"]) == 0
    picture = Image.open(tmp_path / "art.png")
    assert picture.size == (64, 64) and read_png_recipe(tmp_path / "art.png").facts["path"] == "adapter"


def test_an_adapter_trained_from_the_picture_tab_draws_picture_from_audio(qtbot, pictures_window, tmp_path):
    from test_pictures_in_app import add_clip, tone

    from assets.make_tiny_sd import TINY_SD_DIR

    window, tools = pictures_window
    form = tools.edit_panel.forms["illustrate"]
    form.train.click()
    wizard = form.wizard
    page = choose_sd_base(qtbot, wizard, pairs_folder(tmp_path))
    page.steps_spin.setValue(2)
    page.checkpoint_spin.setValue(0)
    page.batch_spin.setValue(2)
    with qtbot.waitSignal(wizard.picture_model_trained, timeout=300000) as trained:
        wizard.next()  # "Train"
    wizard.monitor_page.apply_button.click()  # "Use it for Picture from Audio": the tab's model now
    assert form.params()["model"] == trained.args[0] == str(tmp_path / "pairs-audio-adapter")
    # The adapter hears the sound itself: no tagger (greyed, saying why); words and size still count.
    assert not form.tagger.isEnabled() and "Greyed: an audio adapter hears the sound itself" in form.tagger.toolTip()
    assert form.prompt.isEnabled() and form.size.isEnabled()
    from app.tasks.illustrate import ADAPTER_FILE
    from engine.pictures.illustrate import ADAPTER_CONFIG_FILE

    assert ADAPTER_FILE == ADAPTER_CONFIG_FILE
    form.size.setValue(64)
    add_clip(window, tone(440, 2.0), "tone")
    run_and_wait(qtbot, tools, lambda: tools.run_edit("illustrate"))
    assert len(window.project.pictures) == 2  # the tab's 2 variations, drawn through the adapter
    for picture in window.project.pictures:
        assert picture.recipe.facts["path"] == "adapter" and picture.image.size == (64, 64)
        assert picture.recipe.model_id == trained.args[0]
    wizard.hide()
    form.train.click()  # opened on the adapter: another adapter for its SD model is what the wizard offers
    assert wizard.pairs_page.model_id() == str(TINY_SD_DIR) and wizard.pairs_page.is_adapter()


def test_an_adapter_run_cut_short_by_closing_the_app_resumes_with_its_own_settings(
        qtbot, client, make_client, settings, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    job, step = start_and_close_the_app(qtbot, client, settings, pairs_folder(tmp_path), steps=4, checkpoint_every=1,
                                        stop_at=1, sd=True)
    assert (job.size, job.template) == (64, "a photo of <audio>")
    client = make_client()  # the app opens again
    wizard = open_wizard(qtbot, client, settings)
    (offer,) = wizard.run_offers.visible()  # named as what it makes: an audio adapter for its SD model
    assert offer.label.text() == (f"The audio adapter 'pairs-audio-adapter' for tiny-sd did not finish: it stopped "
                                  f"after step {step} of 4 and can go on from that checkpoint.")
    offer.discard_button.click()
    assert "of the unfinished audio adapter 'pairs-audio-adapter' for tiny-sd (in " in offer.confirm_box.text()
    offer.confirm_box.button(QMessageBox.StandardButton.Cancel).click()
    choose_sd_base(qtbot, wizard, tmp_path / "pairs")  # a new run into its folder asks first, naming it so
    wizard.next()  # "Train"
    assert wizard.start_over_box.text().startswith(
        f"The audio adapter 'pairs-audio-adapter' for tiny-sd did not finish: it stopped after step {step},")
    wizard.start_over_box.cancel_button.click()
    assert job.latest_checkpoint()[0] == step
    with qtbot.waitSignal(wizard.picture_model_trained, timeout=300000) as trained:
        offer.resume_button.click()
        pairs = wizard.pairs_page  # the pages show the run's adapter settings, not the defaults
        assert pairs.is_adapter() and pairs.size_spin.value() == 64 and wizard.settings_page.seed_spin.value() == 7
    assert trained.args[0] == job.output_dir and (Path(job.output_dir) / "audio_adapter.json").is_file()
    assert wizard.monitor_page.steps == list(range(step + 1, 5))  # from the checkpoint, not from step 1
    client.wait_for_tasks()


def test_the_frame_interval_says_how_much_sound_the_encoder_hears_and_a_size_off_8_is_said(
        qtbot, client, settings, tmp_path):
    from test_ux_messages import _type_into

    from app.widgets.picture_wizard import HEARD_S
    from app.widgets.spin_boxes import range_notices
    from engine.pictures.adapter import CLAP_WINDOW_S
    from engine.pictures.model import WINDOW_S

    assert HEARD_S == {"picture": WINDOW_S, "clap": CLAP_WINDOW_S}  # the engine's windows
    wizard = open_wizard(qtbot, client, settings)
    pairs = wizard.pairs_page
    every = pairs.every_spin
    assert "2.56 s of sound" in every.toolTip() and "2.56 s of sound" in pairs.subTitle()  # the starter's encoder
    pairs.model_combo.setEditText(str(tmp_path / "some-sd"))  # an SD base typed
    assert pairs.is_adapter() and "2.56 s of sound" in every.toolTip()  # an adapter on the starter's encoder
    pairs.encoder_combo.setEditText("laion/clap-htsat-unfused")  # CLAP hears 10 s: a video's frame gets 10 s
    assert "10 s of sound" in every.toolTip() and "10 s of sound" in pairs.subTitle()
    pairs.model_combo.setCurrentIndex(0)  # a picture model base: its own encoder again
    assert "2.56 s of sound" in every.toolTip()

    pairs.model_combo.setEditText(str(tmp_path / "some-sd"))
    said = []
    range_notices().said.connect(said.append)
    size = pairs.size_spin
    _type_into(qtbot, size, "100")  # not a multiple of 8: used at the nearest, and said where it was typed
    assert size.value() == 104 and said == ["Picture size: 100 px is not a multiple of 8; using 104 px"]
    assert size.property("rangeNotice") == said[0]
    _type_into(qtbot, size, "128")  # a multiple of 8: taken as typed, nothing said
    assert size.value() == 128 and len(said) == 1
    range_notices().said.disconnect(said.append)
