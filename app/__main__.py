"""Launch Specdiff Studio: ``specdiff [files…]`` or ``python -m app [files…]``.

Builds the QApplication, the EngineClient (engine worker thread) and the MainWindow; nothing
else. Audio files given on the command line are imported; a ``.sdproj`` file is opened.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
#: Exit status when Qt could not open a window (missing libraries, no display).
EXIT_NO_DISPLAY = 3


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="specdiff", description="Edit sound as a picture.")
    parser.add_argument("files", nargs="*", help="audio files to import, or a .sdproj project to open")
    parser.add_argument("--settings", help="settings file to use instead of the user's (an INI file)")
    parser.add_argument("--offline", action="store_true", help="never contact the Hugging Face hub")
    parser.add_argument("--verbose", "-v", action="store_true", help="log engine activity to stderr")
    parser.add_argument("--quit-after-ms", type=int, metavar="MS", help=argparse.SUPPRESS)  # smoke tests
    parser.add_argument("--screenshot", metavar="PNG", help=argparse.SUPPRESS)  # grab the window before quitting
    return parser.parse_args(argv)


#: Links in the dark theme (Qt's default #0000ff is near-invisible on its #1f2125).
LINK_COLOUR = "#7fb2ff"
LINK_VISITED_COLOUR = "#b89cf0"


def load_style_sheet() -> str:
    """The app's style sheet, its icon urls made absolute (Qt reads a relative url from the
    current directory)."""
    path = RESOURCES / "style.qss"
    if not path.is_file():
        return ""
    return path.read_text(encoding="utf-8").replace("@ICONS@", (RESOURCES / "icons").as_posix())


def apply_theme(app) -> None:
    """The dark theme on the QApplication ``app``: the style sheet, and the palette's link
    colours (a style sheet cannot set them; the prompt panel's "download a real model" and the
    model manager's links use them)."""
    from PySide6.QtGui import QColor, QPalette

    palette = app.palette()
    palette.setColor(QPalette.ColorRole.Link, QColor(LINK_COLOUR))
    palette.setColor(QPalette.ColorRole.LinkVisited, QColor(LINK_VISITED_COLOUR))
    app.setPalette(palette)
    app.setStyleSheet(load_style_sheet())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    if not args.verbose:
        # Library notes at every start ("`CLIPImageProcessor` requires torchvision (not installed);
        # ... Install torchvision") read like a broken install in the terminal; as in specdiff-cli.
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is None or widgets.QApplication.instance() is None:
        # Qt aborts the process when no platform plugin loads: say what is missing instead.
        from app.platform_check import describe, platform_problems

        problems = platform_problems()
        if problems:
            print(describe(problems), file=sys.stderr)
            return EXIT_NO_DISPLAY

    from PySide6.QtWidgets import QApplication

    from app.engine_client import EngineClient
    from app.io_actions import PROJECT_SUFFIX
    from app.main_window import APP_TITLE, MainWindow
    from app.settings import APPLICATION, ORGANIZATION, AppSettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APP_TITLE)
    apply_theme(app)
    # SIGTERM/SIGINT/SIGHUP close the window as File > Quit does (no question asked); caught
    # from here on, handled once the event loop runs (the window exists by then).
    from app.unix_signals import install_quit_handler

    windows: list = []
    app.quit_signal_watcher = install_quit_handler(
        lambda signum: windows[0].close_for_signal(signum) if windows else app.quit(), app
    )

    settings = AppSettings(args.settings)
    engine_settings = settings.engine_settings()
    if args.offline:
        engine_settings = engine_settings.with_changes(offline=True)
    client = EngineClient(engine_settings)
    app.aboutToQuit.connect(lambda: client.shutdown(wait_for_all=False))
    window = MainWindow(client, settings)
    windows.append(window)
    window.show()
    client.warm_up()  # heavy imports off the GUI thread while the user looks around

    projects = [f for f in args.files if f.endswith(PROJECT_SUFFIX)]
    audio = [f for f in args.files if not f.endswith(PROJECT_SUFFIX)]
    if projects:
        window.open_project(projects[0])
    if audio:
        window.import_files(audio)
    if args.quit_after_ms is not None:
        from PySide6.QtCore import QTimer

        def finish() -> None:
            if args.screenshot:
                window.grab().save(args.screenshot)
            window.ask_before_closing = False
            window.close()
            app.quit()

        QTimer.singleShot(args.quit_after_ms, finish)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
