"""Settings written by the app before it remembered several unfinished runs: the LoRA wizard kept
its one run under ``lora_wizard/last_run``. After the update the app must still offer that run
when it opens, move it into the list of unfinished runs once (the old key is cleared), and not
offer it twice on the next start."""

from __future__ import annotations

from app.main_window import MainWindow
from app.widgets.lora_wizard_runs import OLD_LORA_KEY, RUNS_KEY, job_fields
from engine.training.lora_library import train_lora_spec


def open_app(qtbot, make_client, settings) -> MainWindow:
    window = MainWindow(make_client(), settings)
    window.ask_before_closing = False
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.unfinished_runs.scanned, timeout=30000)  # the folders are looked at off the GUI thread
    return window


def close_app(window: MainWindow, settings) -> None:
    window.client.wait_for_tasks()
    window.close()
    settings.sync()


def test_the_old_wizards_unfinished_run_is_offered_once_and_moved_to_the_list(
        qtbot, make_client, make_settings, tiny_model, tmp_path):
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    job = train_lora_spec()(output=str(tmp_path / "loras" / "hum.safetensors"), model=tiny_model,
                            data_dir=str(sounds), trigger="hum", num_steps=6, checkpoint_every=2)
    # The run stopped after its step-2 checkpoint (written as the engine writes one; the resume
    # itself is tested in test_lora_wizard.py) and the old wizard remembered it as it did.
    job.save_checkpoint(2, lambda folder: (folder / "state.pt").write_bytes(b"state"))
    old = make_settings()
    old.set(OLD_LORA_KEY, {**{k: v for k, v in job_fields(job).items() if k != "clips"}, "clips_kept": False})
    old.sync()

    settings = make_settings()  # the updated app opens with the user's settings
    window = open_app(qtbot, make_client, settings)
    notice = window.unfinished_runs
    assert notice.dialog.isVisible()
    (offer,) = notice.visible()  # once, by name and step
    assert offer.label.text() == ("The LoRA 'hum' did not finish: it stopped after step 2 of 6 and can go on from "
                                  "that checkpoint.")
    assert offer.run.job.data_dir == str(sounds) and offer.run.job.trigger == "hum"
    assert settings.get(OLD_LORA_KEY) is None
    (record,) = settings.get(RUNS_KEY)
    assert record["kind"] == "lora" and record["fields"]["output_dir"] == job.output_dir
    offer.later_button.click()
    assert not notice.dialog.isVisible()
    close_app(window, settings)

    again = make_settings()  # the next start: the run is offered again (Later), and only once
    window = open_app(qtbot, make_client, again)
    (offer,) = window.unfinished_runs.visible()
    assert offer.run.step == 2 and offer.run.output_dir == job.output_dir
    assert again.get(OLD_LORA_KEY) is None and again.get(RUNS_KEY) == [record]
    close_app(window, again)
