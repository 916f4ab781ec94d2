"""How audio made today is compared with the golden outputs of tests/assets/golden.

On the machine that recorded them (the same CPU, torch kernels, torch and numpy) a recipe must
regenerate them bit for bit. Elsewhere the float rounding of other CPU kernels is allowed: torch
picks its vector kernels by what the CPU offers (AVX-512 or AVX2; ``ATEN_CPU_CAPABILITY``), and
the same recipe on an AMD EPYC without AVX-512 came out 1e-5 to 1e-3 away from the goldens in
relative energy (at most 9e-4 in a sample), through 2-20 denoising steps and Griffin-Lim, where
a changed seed, step count or guidance moves the audio by 10-140%. Hence the 1% bound.
"""

from __future__ import annotations

import platform

import numpy as np

#: Largest allowed ||ours - golden|| / ||golden|| on another machine (-40 dB).
OTHER_MACHINE_REL_ERROR = 1e-2


def this_environment() -> str:
    """What decides bit-identical float results here: machine, CPU, torch's vector kernels,
    torch and numpy versions."""
    import torch

    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    kernels = torch.backends.cpu.get_cpu_capability()
    return f"{platform.machine()} | {cpu} | {kernels} | torch {torch.__version__} | numpy {np.__version__}"


def same_machine(golden: dict) -> bool:
    return golden.get("environment") == this_environment()


def assert_close_to_golden(ours: np.ndarray, golden: np.ndarray, golden_json: dict) -> None:
    """``ours`` equals ``golden`` to the last bit on the recording machine, else to
    :data:`OTHER_MACHINE_REL_ERROR` in relative energy (same shape in both cases)."""
    ours, golden = np.asarray(ours, dtype=np.float32), np.asarray(golden, dtype=np.float32)
    assert ours.shape == golden.shape
    if same_machine(golden_json):
        np.testing.assert_array_equal(ours, golden)
        return
    error = float(np.linalg.norm(ours - golden) / max(np.linalg.norm(golden), 1e-12))
    assert error <= OTHER_MACHINE_REL_ERROR, (
        f"{error:.2e} of the golden audio's energy differs (allowed on another machine: {OTHER_MACHINE_REL_ERROR:.0e})"
    )


def assert_facts_match(ours: object, golden: object, golden_json: dict, path: str = "facts") -> None:
    """A recipe's facts (measurements of the audio it made, e.g. its loudness and true peak)
    equal the golden recipe's on the recording machine; elsewhere a number may differ as little
    as the audio does (0.01 absolute: a hundredth of a dB); every other field is exact."""
    if same_machine(golden_json):
        assert ours == golden, path
    elif isinstance(ours, dict) and isinstance(golden, dict):
        assert ours.keys() == golden.keys(), path
        for key in ours:
            assert_facts_match(ours[key], golden[key], golden_json, f"{path}.{key}")
    elif isinstance(ours, (list, tuple)) and isinstance(golden, (list, tuple)):
        assert len(ours) == len(golden), path
        for i, (a, b) in enumerate(zip(ours, golden)):
            assert_facts_match(a, b, golden_json, f"{path}[{i}]")
    elif isinstance(ours, float) or isinstance(golden, float):
        assert abs(float(ours) - float(golden)) <= 0.01, f"{path}: {ours} != {golden}"
    else:
        assert ours == golden, path
