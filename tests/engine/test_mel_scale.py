"""Hz <-> mel live in one torch-free place (engine.audio.mel_scale) that the edits, the timeline's
frequency axis and the app's masks all use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.audio.mel_scale import bins_for_band, hz_to_mel, mel_bin_frequencies, mel_to_hz
from engine.audio.params import get_preset

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_round_trip_and_known_points(scale):
    hz = np.array([0.0, 100.0, 440.0, 999.0, 1000.0, 4000.0, 11025.0])
    assert np.allclose(mel_to_hz(hz_to_mel(hz, scale), scale), hz, atol=1e-9)
    assert np.all(np.diff(hz_to_mel(hz, scale)) > 0)
    if scale == "htk":
        assert float(hz_to_mel(700.0, scale)) == pytest.approx(2595.0 * np.log10(2.0))
    else:
        assert float(hz_to_mel(1000.0, scale)) == pytest.approx(15.0)
    with pytest.raises(ValueError, match="mel_scale"):
        hz_to_mel(440.0, "bark")


def test_bins_of_a_band_hold_its_frequencies():
    params = get_preset("starter")
    centres = mel_bin_frequencies(params)
    assert len(centres) == params.num_frequencies and centres[0] > params.min_frequency
    lo, hi = bins_for_band(params, 200.0, 2000.0)
    assert 200.0 <= centres[lo] and centres[hi - 1] <= 2000.0 and centres[hi] > 2000.0
    with pytest.raises(ValueError, match="holds no mel bin"):
        bins_for_band(params, 1000.0, 1000.1)


def test_the_app_uses_the_engines_conversions_without_torch():
    code = (
        "import sys\n"
        "import engine.audio.mel_scale as m, app.model.mask as mask\n"
        "assert mask.hz_to_mel is m.hz_to_mel\n"
        "assert not any(n.split('.')[0] == 'torch' for n in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
