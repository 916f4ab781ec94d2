"""The README's commands stay true: the quick start is what the scripts and CI run, every
`specdiff-cli` command parses with the real parser, and every file, module and flag it names
exists. (The commands that generate are run by tests/engine/test_cli*.py.)"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the README's ``## title`` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, flags=re.MULTILINE | re.DOTALL)
    assert match, f"the README has no '## {title}' section"
    return match.group(1)


def code_blocks(text: str, language: str = "bash") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def commands(block: str) -> list[list[str]]:
    """Each command of a shell block as argv (a line ending in a backslash goes on on the next, as
    in a shell), comments dropped."""
    lines = [shlex.split(line, comments=True) for line in block.replace("\\\n", " ").splitlines()]
    return [argv for argv in lines if argv]


def script_commands(path: Path) -> list[str]:
    """The command lines of a shell script (no comments, blank lines or continuation joins)."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_quick_start_is_what_the_scripts_and_ci_run():
    quick = [" ".join(argv) for block in code_blocks(section("Quick start")) for argv in commands(block)]
    assert quick == ["bash scripts/run.sh", "bash scripts/test.sh"]
    for command in quick:
        assert (ROOT / command.split()[1]).is_file(), command
    # CI runs the README's test command verbatim, as its last step.
    assert script_commands(ROOT / ".ci" / "run")[-1] == "bash scripts/test.sh"
    # run.sh ends by starting the app the README says starts it directly afterwards.
    assert script_commands(ROOT / "scripts" / "run.sh")[-1] == 'exec .venv/bin/specdiff "$@"'
    assert "`.venv/bin/specdiff [files…]` starts the app directly" in section("Quick start")
    # test.sh installs the test extra and runs pytest, as the comment says.
    test_sh = "\n".join(script_commands(ROOT / "scripts" / "test.sh"))
    assert "pip install -q -e '.[test]'" in test_sh and "-m pytest" in test_sh


def test_the_app_flags_in_the_readme_exist():
    from app.__main__ import parse_args

    text = section("Quick start")
    flags = re.findall(r"`(--[a-z-]+)(?: ([A-Z]+))?`", text)
    assert {flag for flag, _ in flags} >= {"--offline", "--settings"}
    for flag, value in flags:
        parse_args([flag, "x"] if value else [flag])  # argparse exits on an unknown flag


def readme_cli_commands() -> list[list[str]]:
    found = []
    for block in code_blocks(README):
        for argv in commands(block):
            if argv[0] == "specdiff-cli":
                found.append(argv)
    return found


def test_the_readme_shows_every_cli_command():
    shown = {argv[1] for argv in readme_cli_commands()}
    assert shown >= {"generate", "models", "to-image", "to-audio", "inpaint", "extend", "loop", "vary", "interpolate"}


@pytest.mark.parametrize("argv", readme_cli_commands(), ids=lambda argv: " ".join(argv[1:3]))
def test_every_cli_command_in_the_readme_parses(argv):
    from engine.cli import build_parser

    args = build_parser().parse_args(argv[1:])  # a bad flag raises CliError
    assert callable(args.func)


def test_files_and_modules_the_readme_names_exist():
    for path in re.findall(r"`bash ([\w/.-]+\.sh)`", README):
        assert (ROOT / path).is_file(), path
    for module in re.findall(r"`\.venv/bin/python -m ([\w.]+)", README):
        assert importlib.util.find_spec(module) is not None, module
    for path in re.findall(r"`((?:resources|scripts|packaging|bench|tests)/[\w/.-]+)`", README):
        if "<" not in path:
            assert (ROOT / path).exists(), path
