"""Scheduler names -> diffusers schedulers built from a model's own scheduler config.

Every generation task accepts the same names (``engine.specs.SCHEDULER_NAMES``). A scheduler is
built fresh for each run from the checkpoint's ``scheduler_config`` (its betas, timestep spacing,
prediction type), so a run never shares stateful scheduler objects (multistep solvers keep a
history) with another run or with the pipeline's own ``scheduler`` attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.specs import SCHEDULER_NAMES

# name -> (diffusers class name, config overrides). Overrides are explicit in both directions
# (e.g. ``use_karras_sigmas=False``) so that a base config saved from another scheduler (a
# checkpoint shipped with DPM++ Karras) cannot leak its options into the one asked for.
_SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "dpm++2m-karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "dpm++2m": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": False},
    ),
    "euler": ("EulerDiscreteScheduler", {"use_karras_sigmas": False}),
    "euler-a": ("EulerAncestralDiscreteScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    # Stable Diffusion's PNDM runs PLMS only (no Runge-Kutta warm-up), one UNet call per step.
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}),
    "lms": ("LMSDiscreteScheduler", {"use_karras_sigmas": False}),
}

# Defaults applied only where the base config is silent. Latent diffusion never clips samples
# (SD 1.x configs say ``clip_sample: false``); DDIM's own default of True would corrupt them.
_DEFAULTS: dict[str, dict[str, Any]] = {"ddim": {"clip_sample": False}}

assert tuple(_SCHEDULERS) == SCHEDULER_NAMES, "keep engine.specs.SCHEDULER_NAMES in sync"


def make_scheduler(name: str, base_config: Mapping[str, Any]) -> Any:
    """Build the diffusers scheduler called ``name`` from a model's scheduler config.

    ``base_config`` is a checkpoint's ``scheduler.config`` (any diffusers scheduler class): its
    noise schedule (``beta_start``, ``beta_end``, ``beta_schedule``, ``num_train_timesteps``,
    ``prediction_type``, ``timestep_spacing``, ...) carries over; options that belong to another
    scheduler class are ignored by diffusers. Returns a new scheduler instance on every call.

    Raises ValueError for a name not in ``SCHEDULER_NAMES``.
    """
    if name not in _SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; expected one of {', '.join(SCHEDULER_NAMES)}.")
    import diffusers

    class_name, overrides = _SCHEDULERS[name]
    scheduler_class = getattr(diffusers, class_name)
    config = {k: v for k, v in dict(base_config).items() if not k.startswith("_")}
    for key, value in _DEFAULTS.get(name, {}).items():
        config.setdefault(key, value)
    config.update(overrides)
    return scheduler_class.from_config(config)
