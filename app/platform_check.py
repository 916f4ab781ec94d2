"""Can Qt open a window here? Checked before the QApplication exists, because Qt aborts the
process (exit 134, "no Qt platform plugin could be initialized") when it cannot.

Qt picks a platform plugin (``xcb`` for X11, ``wayland``, ``offscreen``, ...) and loads it from
its plugins folder. On Linux the load fails when a library the plugin links is not installed
(``libxcb-cursor0`` on a fresh Debian, say) or when there is no display to connect to. This
module finds the plugin files Qt would try, asks ``ldd`` which of their libraries are missing,
tries the display, and words what to install. No Qt GUI module is imported here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Debian/Ubuntu package of each library Qt's xcb, wayland and GUI libraries link (``ldd`` on
#: PySide6's plugins; ``dpkg -S`` for the package). Others are guessed by Debian's naming rule.
DEBIAN_PACKAGES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libOpenGL.so.0": "libopengl0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libpng16.so.16": "libpng16-16",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
}
PLATFORM_NAMES = {"xcb": "X11 (xcb)", "wayland": "Wayland"}
#: Platforms that need no display server.
HEADLESS_PLATFORMS = {"offscreen", "minimal", "vnc", "linuxfb", "eglfs", "minimalegl", "vkkhrdisplay"}

Ldd = Callable[[Path], str]


@dataclass
class PlatformProblem:
    """Why one platform cannot start: libraries its plugin needs that are not installed, no
    plugin file at all, or no display to connect to."""

    platform: str
    missing_libraries: list[str] = field(default_factory=list)
    no_plugin: bool = False
    display_error: str = ""


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships ``soname`` (known ones, else Debian's naming rule:
    ``libfoo-bar.so.2`` -> ``libfoo-bar2``, ``libfoo2.so.1`` -> ``libfoo2-1``)."""
    if soname in DEBIAN_PACKAGES:
        return DEBIAN_PACKAGES[soname]
    match = re.match(r"^(lib[^/]+?)\.so\.(\d+)", soname)
    if not match:
        return soname
    stem, major = match.group(1).lower(), match.group(2)
    return f"{stem}-{major}" if stem[-1].isdigit() else f"{stem}{major}"


def requested_platforms(env: Mapping[str, str]) -> list[str]:
    """The platforms Qt will try, in order (QT_QPA_PLATFORM, else what Qt picks for the session)."""
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return [name.split(":", 1)[0].strip() for name in chosen.split(";") if name.strip()]
    session = env.get("XDG_SESSION_TYPE", "").lower()
    desktop = (env.get("XDG_CURRENT_DESKTOP", "") + env.get("XDG_SESSION_DESKTOP", "")).lower()
    if session == "wayland" and "gnome" not in desktop:  # Qt ignores Wayland on GNOME unless asked
        return ["wayland", "xcb"]
    return ["xcb"]


def qt_plugin_dirs(env: Mapping[str, str]) -> list[Path]:
    """Folders Qt searches for platform plugins, in its order."""
    dirs = []
    if env.get("QT_QPA_PLATFORM_PLUGIN_PATH"):
        dirs.append(Path(env["QT_QPA_PLATFORM_PLUGIN_PATH"]))
    for entry in env.get("QT_PLUGIN_PATH", "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry) / "platforms")
    try:
        from PySide6.QtCore import QLibraryInfo  # QtCore needs no display and no GUI libraries

        dirs.append(Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms")
    except ImportError:
        pass
    return dirs


def run_ldd(path: Path) -> str:
    """``ldd``'s report on a shared library ("" when ldd is not installed)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return ""
    result = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=30)
    return result.stdout + result.stderr


def missing_libraries(ldd_output: str) -> list[str]:
    """Libraries ``ldd`` reports as ``not found``, in its order, each once."""
    found = re.findall(r"^\s*(\S+)\s+=>\s+not found", ldd_output, flags=re.MULTILINE)
    return list(dict.fromkeys(found))


def x_display_error(display: str | None) -> str:
    """"" when an X server answers on ``display``, else why not (libxcb's own connect)."""
    if not display:
        return "no X display: DISPLAY is not set"
    name = ctypes.util.find_library("xcb") or "libxcb.so.1"
    try:
        xcb = ctypes.CDLL(name)
    except OSError:
        return ""  # libxcb itself is missing: the library check reports it
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        error = xcb.xcb_connection_has_error(connection) if connection else 1
    finally:
        if connection:
            xcb.xcb_disconnect(connection)
    return f"cannot connect to the X display {display!r}" if error else ""


def wayland_display_error(env: Mapping[str, str]) -> str:
    """"" when the Wayland compositor's socket exists, else why not."""
    name = env.get("WAYLAND_DISPLAY", "")
    if not name:
        return "no Wayland display: WAYLAND_DISPLAY is not set"
    socket = Path(name) if os.path.isabs(name) else Path(env.get("XDG_RUNTIME_DIR", "")) / name
    return "" if socket.exists() else f"the Wayland socket {socket} does not exist"


def check_platform(
    platform: str,
    env: Mapping[str, str],
    *,
    plugin_dirs: list[Path] | None = None,
    ldd: Ldd = run_ldd,
) -> PlatformProblem | None:
    """None when Qt can start ``platform`` here, else what stands in the way. Like Qt, every
    plugin folder is tried: one plugin whose libraries are all there is enough."""
    dirs = qt_plugin_dirs(env) if plugin_dirs is None else plugin_dirs
    plugins = [d / f"libq{platform}.so" for d in dirs if (d / f"libq{platform}.so").is_file()]
    if not plugins:
        return PlatformProblem(platform, no_plugin=True)
    missing: list[str] = []
    for plugin in plugins:
        libraries = missing_libraries(ldd(plugin))
        if not libraries:
            missing = []
            break
        missing = missing or libraries
    if missing:
        return PlatformProblem(platform, missing_libraries=missing)
    if platform == "xcb":
        error = x_display_error(env.get("DISPLAY"))
    elif platform == "wayland":
        error = wayland_display_error(env)
    else:
        error = ""
    return PlatformProblem(platform, display_error=error) if error else None


def platform_problems(
    env: Mapping[str, str] | None = None, *, plugin_dirs: list[Path] | None = None, ldd: Ldd = run_ldd
) -> list[PlatformProblem]:
    """[] when Qt can start one of the platforms it will try; else each one's problem."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return []
    problems = []
    for platform in requested_platforms(env):
        problem = check_platform(platform, env, plugin_dirs=plugin_dirs, ldd=ldd)
        if problem is None:
            return []
        problems.append(problem)
    return problems


def describe(problems: list[PlatformProblem], *, apt: bool | None = None) -> str:
    """What to tell the user (several lines): what is missing and the command that fixes it."""
    if apt is None:
        apt = shutil.which("apt-get") is not None
    lines = ["specdiff: Qt cannot open a window here."]
    packages: list[str] = []
    for problem in problems:
        name = PLATFORM_NAMES.get(problem.platform, problem.platform)
        if problem.missing_libraries:
            lines.append(f"  {name}: these libraries are not installed: {', '.join(problem.missing_libraries)}")
            packages += [debian_package(lib) for lib in problem.missing_libraries]
        elif problem.no_plugin:
            lines.append(f"  {name}: Qt has no '{problem.platform}' platform plugin (check QT_QPA_PLATFORM).")
        elif problem.display_error:
            lines.append(f"  {name}: {problem.display_error}.")
    packages = list(dict.fromkeys(packages))
    if packages:
        if apt:
            lines.append("Install them with:")
            lines.append(f"  sudo apt-get install {' '.join(packages)}")
        else:
            lines.append(f"Install the packages that provide them (on Debian/Ubuntu: {' '.join(packages)}).")
    if any(p.display_error for p in problems) and not packages:
        lines.append("Run specdiff in a desktop session, or without one under a virtual display: "
                     "xvfb-run .venv/bin/specdiff")
        if shutil.which("xvfb-run") is None:
            lines.append("  (xvfb-run is in the xvfb package: sudo apt-get install xvfb)" if apt
                         else "  (xvfb-run comes with the X virtual framebuffer, Xvfb: on Debian/Ubuntu the xvfb package)")
    return "\n".join(lines)
