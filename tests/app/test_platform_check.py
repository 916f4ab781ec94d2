"""`specdiff` on a machine where Qt cannot open a window: it names the missing libraries and the
command that installs them (or the missing display) and exits with a status, instead of Qt
aborting the process (exit 134). And on a machine where it can (Xvfb), the xcb platform starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import platform_check
from app.__main__ import EXIT_NO_DISPLAY

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = b"libxcb-cursxr.so.0"  # what the broken plugin asks for instead of libxcb-cursor.so.0


def qt_platform_dir() -> Path:
    from PySide6.QtCore import QLibraryInfo

    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"


@pytest.fixture
def broken_plugin_dir(tmp_path) -> Path:
    """A copy of Qt's real xcb plugin that links a library no machine has (a NEEDED entry
    renamed in place), next to Qt's real libraries, as a fresh machine without libxcb-cursor0
    would see the real one."""
    if shutil.which("ldd") is None or not (qt_platform_dir() / "libqxcb.so").is_file():
        pytest.skip("needs ldd and Qt's xcb plugin")
    real = qt_platform_dir() / "libqxcb.so"
    data = real.read_bytes()
    assert b"libxcb-cursor.so.0\x00" in data
    platforms = tmp_path / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    (platforms / "libqxcb.so").write_bytes(data.replace(b"libxcb-cursor.so.0\x00", HIDDEN + b"\x00"))
    # The plugin finds Qt's own libraries through its RUNPATH, $ORIGIN/../../lib.
    (tmp_path / "lib").symlink_to(real.parents[2] / "lib")
    return platforms


def test_missing_library_is_found_and_named_with_the_install_command(broken_plugin_dir):
    env = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}
    problems = platform_check.platform_problems(env, plugin_dirs=[broken_plugin_dir])
    assert [p.platform for p in problems] == ["xcb"]
    assert problems[0].missing_libraries == [HIDDEN.decode()]
    message = platform_check.describe(problems, apt=True)
    assert HIDDEN.decode() in message
    assert "sudo apt-get install libxcb-cursxr0" in message


def test_a_working_plugin_in_another_folder_is_enough(broken_plugin_dir):
    # Qt tries every plugin folder; so does the check (no display check for offscreen).
    problem = platform_check.check_platform(
        "xcb", {"DISPLAY": ""}, plugin_dirs=[broken_plugin_dir, qt_platform_dir()]
    )
    assert problem is not None and not problem.missing_libraries  # only the display is missing
    assert "DISPLAY" in problem.display_error


def test_the_libraries_of_the_issue_map_to_their_debian_packages():
    problems = [platform_check.PlatformProblem(
        "xcb", missing_libraries=["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-icccm.so.4"]
    )]
    message = platform_check.describe(problems, apt=True)
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1\n" in message + "\n"
    assert platform_check.debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert platform_check.debian_package("libfoo2.so.1") == "libfoo2-1"  # Debian's rule for the rest
    without_apt = platform_check.describe(problems, apt=False)
    assert "apt-get" not in without_apt and "libxcb-cursor0" in without_apt


def test_every_library_the_real_xcb_plugin_links_is_installed_by_the_scripts():
    """scripts/run.sh and `.ci/run` install the package of every library the plugin links (the
    ones the check knows: all but libc's and compression libraries every system has)."""
    if shutil.which("ldd") is None:
        pytest.skip("needs ldd")
    # The platform plugin and its OpenGL integrations (plugins/xcbglintegrations), which it loads.
    plugins = [qt_platform_dir() / "libqxcb.so", *sorted((qt_platform_dir().parent / "xcbglintegrations").glob("*.so"))]
    output = "\n".join(platform_check.run_ldd(plugin) for plugin in plugins)
    linked = {line.split()[0] for line in output.splitlines() if "=>" in line and "/PySide6/" not in line}
    packages = {platform_check.DEBIAN_PACKAGES[lib] for lib in linked if lib in platform_check.DEBIAN_PACKAGES}
    assert {"libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-glx0"} <= packages
    listed = ROOT / "scripts" / "debian-packages.txt"
    words = {w for line in listed.read_text().splitlines() if not line.startswith("#") for w in line.split()}
    assert packages <= words, sorted(packages - words)
    for script in (ROOT / ".ci" / "run", ROOT / "scripts" / "system-packages.sh"):
        assert "scripts/debian-packages.txt" in script.read_text(), script
    for script in (ROOT / "scripts" / "run.sh", ROOT / "scripts" / "test.sh"):
        assert "source scripts/system-packages.sh" in script.read_text(), script


def test_requested_platforms_follow_qt():
    assert platform_check.requested_platforms({}) == ["xcb"]
    assert platform_check.requested_platforms({"QT_QPA_PLATFORM": "wayland;xcb"}) == ["wayland", "xcb"]
    assert platform_check.requested_platforms({"QT_QPA_PLATFORM": "offscreen:fontengine=freetype"}) == ["offscreen"]
    assert platform_check.requested_platforms({"XDG_SESSION_TYPE": "wayland"}) == ["wayland", "xcb"]
    assert platform_check.requested_platforms({"XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "GNOME"}) == ["xcb"]
    assert platform_check.platform_problems({"QT_QPA_PLATFORM": "offscreen"}) == []


def _run_app(env: dict[str, str], tmp_path: Path, code: str | None = None) -> subprocess.CompletedProcess:
    args = ["--settings", str(tmp_path / "s.ini"), "--offline", "--quit-after-ms", "300"]
    command = [sys.executable, "-m", "app", *args] if code is None else [sys.executable, "-c", code, *args]
    full_env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    full_env.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=full_env, cwd=ROOT)


def test_specdiff_with_a_missing_library_says_what_to_install_instead_of_aborting(broken_plugin_dir, tmp_path):
    code = (
        "import sys; from pathlib import Path; import app.platform_check as pc; "
        f"pc.qt_plugin_dirs = lambda env: [Path({str(broken_plugin_dir)!r})]; "
        "from app.__main__ import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = _run_app({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}, tmp_path, code)
    assert proc.returncode == EXIT_NO_DISPLAY, proc.stderr
    assert HIDDEN.decode() in proc.stderr
    assert "libxcb-cursxr0" in proc.stderr  # the package to install (with apt-get where there is one)
    assert not (tmp_path / "s.ini").exists()  # stopped before the app was built


def test_specdiff_without_a_display_says_so_instead_of_aborting(tmp_path):
    proc = _run_app({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":4711"}, tmp_path)
    assert proc.returncode == EXIT_NO_DISPLAY, (proc.returncode, proc.stderr)
    assert "cannot connect to the X display ':4711'" in proc.stderr
    assert "xvfb-run" in proc.stderr


def test_without_a_display_or_xvfb_it_says_which_package_has_xvfb_run(monkeypatch):
    problems = [platform_check.PlatformProblem("xcb", display_error="no X display: DISPLAY is not set")]
    monkeypatch.setattr(platform_check.shutil, "which", lambda name: None)
    message = platform_check.describe(problems, apt=True)
    assert "xvfb-run .venv/bin/specdiff" in message
    assert "sudo apt-get install xvfb" in message


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run")
def test_specdiff_starts_on_x11_under_xvfb(tmp_path):
    """The real xcb platform plugin (not offscreen) loads and the window opens and closes."""
    proc = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable, "-m", "app",
         "--settings", str(tmp_path / "s.ini"), "--offline", "--quit-after-ms", "500"],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}, "QT_QPA_PLATFORM": "xcb",
             "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "s.ini").exists()
