"""Pictures from audio (issue 16, seed 002): an audio embedding conditions a small pixel-space DDPM.

* :mod:`engine.pictures.drawing`: the procedural pictures the starter picture model learns: a
  sound's attributes (family group, pitch, onsets, loudness) drawn as a 64x64 picture.
* :mod:`engine.pictures.corpus`: the starter's training sounds (the General MIDI corpus rendered
  with fluidsynth and the synth corpus), each with its attributes; no download.
* :mod:`engine.pictures.model`: the audio encoder (a small CNN over a log-mel spectrogram), the
  learned projection to cross-attention tokens, the DDPM (diffusers ``UNet2DConditionModel``)
  with classifier-free guidance, saving and loading a picture-model folder.
* :mod:`engine.pictures.zeroshot`: the zero-shot path: AudioSet tags (AST) -> prompt -> SD 1.5.
* :mod:`engine.pictures.video`: a video cut into (audio window, frame) training pairs (PyAV).
* :mod:`engine.pictures.training`: the train_pictures task's runner (pairs and videos).

Only :mod:`drawing` and :mod:`corpus` are torch-free.
"""
