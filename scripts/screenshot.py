"""Take the README's screenshot from the real app: generate clips with the default model (the
shipped starter model on a fresh machine) through the real engine thread, then grab the window.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot.py resources/screenshot.png

Uses a throw-away settings file, so the user's settings are untouched.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

PROMPTS = (("a rising sweep", 0), ("clicks at 4 per second", 1), ("a plucked string at E3", 2))


def main(out: str) -> int:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.__main__ import load_style_sheet
    from app.engine_client import EngineClient
    from app.main_window import MainWindow
    from app.model.project import Selection
    from app.settings import AppSettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyleSheet(load_style_sheet())
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(Path(tmp) / "settings.ini")
        client = EngineClient(settings.engine_settings().with_changes(offline=True, device="cpu"))
        window = MainWindow(client, settings)
        window.ask_before_closing = False
        window.resize(1500, 900)
        window.show()

        def wait(signal, timeout_ms: int = 300_000) -> None:
            loop = QEventLoop()
            signal.connect(loop.quit)
            QTimer.singleShot(timeout_ms, loop.quit)
            loop.exec()
            signal.disconnect(loop.quit)

        wait(client.models_listed)
        panel = window.prompt_panel
        for index, (prompt, seed) in enumerate(PROMPTS):
            if index >= len(window.project.tracks):
                window.add_track()
            window.project.set_selection(Selection(track_id=window.project.tracks[index].id))
            window.project.set_playhead(0.25 + 0.5 * index)
            panel.prompt_edit.setPlainText(prompt)
            panel.seed_edit.setText(str(seed))
            panel.seed_lock.setChecked(True)
            panel.request_generate()
            wait(window.clips_generated)
        window.timeline.zoom_to_fit()
        QTimer.singleShot(500, app.quit)
        app.exec()
        window.grab().save(out)
        window.close()
        client.shutdown()
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshot.png"))
