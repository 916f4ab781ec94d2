"""Specdiff Studio engine: audio <-> spectrogram images, diffusion pipelines, models, jobs.

Imports no Qt and nothing from ``app``; ``engine.api`` is the one door for the GUI and the CLI.
"""
