"""Peak memory of opening hostile project files (issue 17): each case of tests/fuzz/projects.py
is loaded in its own process under an address-space limit; the reference, measured in the same
run, is the same process opening a small valid project. Prints the outcome and peak RSS per case
and its ratio to the reference.

    python bench/bench_project_memory.py [--as-limit-gb 3] [--code PATH] [CASE ...]

``--code`` loads another checkout's ``app`` (e.g. an older commit in a worktree) to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fuzz" / "projects.py"

#: Loads the reference file in a process like the cases' (same imports, same limit).
REFERENCE = """
import json, resource, sys
sys.path.insert(0, sys.argv[3])
limit = int(float(sys.argv[2]) * 1e9)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.path.append(sys.argv[4])
from tests.fuzz.projects import peak_rss_mb, valid_project_file
from app.model.project_files import load_project_file
load_project_file(valid_project_file(sys.argv[1], clips=3))
print(json.dumps({"case": "reference", "outcome": "ok", "message": "",
                  "peak_rss_mb": peak_rss_mb()}))
"""


def run(args: list[str], code: Path, timeout_s: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    try:
        proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout_s, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"outcome": f"still running after {timeout_s:.0f} s", "message": "", "peak_rss_mb": None}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if lines:
        return json.loads(lines[-1])
    return {"outcome": f"crashed (exit {proc.returncode})", "message": proc.stderr.strip().splitlines()[-1:] or "",
            "peak_rss_mb": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*")
    parser.add_argument("--as-limit-gb", type=float, default=3.0)
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose app/ is measured")
    parser.add_argument("--timeout-s", type=float, default=120.0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.fuzz.projects import NASTY_CASES

    cases = args.cases or list(NASTY_CASES)
    with tempfile.TemporaryDirectory() as folder:
        # The corpus builds its files with this checkout's generators but loads with --code's app:
        # the runner script is copied out so its own folder does not shadow --code.
        runner = Path(folder) / "runner.py"
        runner.write_text(CORPUS.read_text().replace(
            'sys.path.insert(0, str(Path(__file__).resolve().parents[2]))', f'sys.path.append({str(ROOT)!r})'))
        ref = run(["-c", REFERENCE, str(Path(folder) / "ref.sdproj"), str(args.as_limit_gb), str(args.code), str(ROOT)],
                  args.code, args.timeout_s)
        print(f"address-space limit {args.as_limit_gb:g} GB, code from {args.code}")
        print(f"reference (a valid 3-clip project): peak RSS {ref['peak_rss_mb']} MB")
        print(f"{'case':45s} {'peak MB':>8s} {'ratio':>6s}  outcome")
        for case in cases:
            r = run([str(runner), "--as-limit-gb", str(args.as_limit_gb), folder, case], args.code, args.timeout_s)
            peak = r["peak_rss_mb"]
            ratio = f"{peak / ref['peak_rss_mb']:.2f}" if peak and ref["peak_rss_mb"] else "-"
            print(f"{case:45s} {peak if peak is not None else '-':>8} {ratio:>6s}  {r['outcome']}: {r['message'][:110]}")


if __name__ == "__main__":
    main()
