"""Take the README's screenshot of the main window from the real app, with today's UI: a short
session on the default model (the shipped starter model 2 on a fresh machine) through the real
engine thread, then a grab of the window.

The session: three generations on three tracks, the first clip extended by a second, a painted
time x frequency box on the second clip (a rock beat) inpainted with a prompt of its own, the
mask left on show and the third (a piano note) selected (the Inspector shows its recipe). Run it under a real X
server the way a user's desktop draws it:

    xvfb-run -a -s "-screen 0 1600x1000x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python scripts/screenshot.py resources/screenshot.png

(``QT_QPA_PLATFORM=offscreen`` works too, with slightly different fonts.) Uses a throw-away
settings file and autosave folder, so the user's settings are untouched.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

PROMPTS = (("a rising sweep", 0), ("a rock beat at 120 BPM", 1), ("a grand piano playing middle C", 2))
WINDOW_SIZE = (1500, 900)


def main(out: str) -> int:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.__main__ import apply_theme
    from app.edit_tools import install_edit_tools
    from app.engine_client import EngineClient
    from app.main_window import MainWindow
    from app.model.mask import Rect
    from app.model.mask_commands import add_shape
    from app.model.project import Selection
    from app.settings import AppSettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(Path(tmp) / "settings.ini")
        client = EngineClient(settings.engine_settings().with_changes(offline=True, device="cpu"))
        window = MainWindow(client, settings)
        window.ask_before_closing = False
        window.resize(*WINDOW_SIZE)
        window.show()
        tools = install_edit_tools(window, autosave_dir=Path(tmp) / "autosave", check_recovery=False)

        def wait(signal, timeout_ms: int = 300_000) -> None:
            loop = QEventLoop()
            signal.connect(loop.quit)
            QTimer.singleShot(timeout_ms, loop.quit)
            loop.exec()
            signal.disconnect(loop.quit)

        def settle(ms: int = 300) -> None:
            loop = QEventLoop()
            QTimer.singleShot(ms, loop.quit)
            loop.exec()

        def edit(kind: str) -> None:
            failed: list[str] = []
            tools.edit_failed.connect(lambda _kind, message: failed.append(message))
            if not tools.run_edit(kind):
                raise RuntimeError(f"{kind} did not start: {failed}")
            wait(tools.edit_landed)
            if failed:
                raise RuntimeError(f"{kind} failed: {failed[0]}")

        wait(client.models_listed)
        project, panel = window.project, window.prompt_panel
        clips = []
        for index, (prompt, seed) in enumerate(PROMPTS):
            if index >= len(project.tracks):
                window.add_track()
            project.set_selection(Selection(track_id=project.tracks[index].id))
            project.set_playhead(0.25 + 0.5 * index)
            panel.prompt_edit.setPlainText(prompt)
            panel.seed_edit.setText(str(seed))
            panel.seed_lock.setChecked(True)
            results: list = []
            window.clips_generated.connect(lambda _job, new, results=results: results.extend(new))
            panel.request_generate()
            wait(window.clips_generated)
            clips.append(results[0])
            if index == 0:  # its time is mostly loading the model (and this machine's load): not shown
                window.job_panel.clear_finished()
        sweep, beat, piano = clips

        # Extend the sweep by a second (its own prompt), inpaint a box of the beat with a tone.
        project.set_selection(Selection(clip_ids=frozenset({sweep.id}), track_id=project.tracks[0].id))
        tools.edit_panel.forms["extend"].left.setValue(0.0)
        tools.edit_panel.forms["extend"].right.setValue(1.0)
        edit("extend")
        window.undo_stack.push_command(add_shape(project, tools.masks, beat.id, Rect(0.8, 1.8, 300.0, 1500.0)))
        project.set_selection(Selection(clip_ids=frozenset({beat.id}), track_id=project.tracks[1].id))
        tools.edit_panel.forms["inpaint"].prompt.setText("a sine tone at 660 Hz")  # an edit's own prompt
        edit("inpaint")

        project.set_selection(Selection(clip_ids=frozenset({piano.id}), track_id=project.tracks[2].id))
        project.set_playhead(1.6)
        window.timeline.zoom_to_fit()
        settle(800)
        window.grab().save(out)
        window.close()
        client.shutdown()
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshot.png"))
