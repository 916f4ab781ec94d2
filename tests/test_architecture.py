"""The boundaries in ARCHITECTURE.md, enforced: the engine is Qt-free, and CI runs what the README says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" not in proc.stdout.lower().replace("0 broken", "")


def test_engine_imports_without_qt():
    code = (
        "import sys, importlib, pkgutil, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'app', 'shiboken6')]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_readme_commands_are_the_ci_commands():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["bash scripts/run.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci
    for script in ("run.sh", "test.sh"):
        assert (ROOT / "scripts" / script).exists()


def door_modules() -> list[str]:
    """The engine modules the app may import: those the door contract in pyproject.toml allows."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (door,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["source_modules"] == ["app"]
               and c["forbidden_modules"] == ["engine"]]
    return [rule.split("->")[1].strip() for rule in door["ignore_imports"]]


def test_the_door_modules_import_no_torch():
    modules = door_modules()
    assert "engine.api" in modules and "engine.audio.spectrogram" not in modules
    code = (
        "import sys, importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "import engine.api\n"
        "engine.api.tasks(), engine.api.GenerateJob, engine.api.get_preset('riffusion')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchaudio', 'diffusers', 'transformers'))\n"
        "assert not heavy, heavy[:5]\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_building_the_main_window_imports_no_torch(tmp_path):
    """The window is built on the GUI thread: torch (seconds of imports) must not load there. The
    app's warm-up imports it afterwards, off the GUI thread (app/__main__.py)."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from app.engine_client import EngineClient\n"
        "from app.main_window import MainWindow\n"
        "from app.settings import AppSettings\n"
        "from engine.api import EngineSettings\n"
        f"client = EngineClient(EngineSettings(device='cpu', offline=True, cache_dir={str(tmp_path / 'hub')!r}))\n"
        f"window = MainWindow(client, AppSettings({str(tmp_path / 'settings.ini')!r}))\n"
        "window.show()\n"
        "app.processEvents()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchaudio', 'diffusers'))\n"
        "window.ask_before_closing = False\n"
        "client.wait_for_tasks()\n"
        "window.close()\n"
        "client.shutdown()\n"
        "assert not loaded, loaded[:5]\n"
    )
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
