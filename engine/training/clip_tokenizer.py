"""A CLIP byte-level BPE tokenizer written from scratch (nothing downloaded).

Used by the starter model's training (:mod:`engine.training.train_starter`, merges learned from
its captions) and by the tiny test models (tests/assets/make_tiny_sd.py, fixed merges). The
files are what ``transformers.CLIPTokenizer.from_pretrained`` reads, so the diffusers pipeline
tokenizes prompts with them like any Stable Diffusion tokenizer.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"

# ---------------------------------------------------------------------------------------------

# CLIP's pre-tokenizer: lower-cased words, single digits, runs of punctuation.
CLIP_WORD_RE = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+")


def bytes_to_unicode() -> dict[int, str]:
    """CLIP/GPT-2's reversible map from the 256 byte values to printable unicode characters."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def learn_bpe_merges(corpus: Sequence[str]) -> list[tuple[str, str]]:
    """Learn BPE merges (Sennrich et al.) from ``corpus`` until every word is a single token.

    Words are split as CLIP's tokenizer splits them (lower case, digits alone) and end with
    ``</w>``. Ties between equally frequent pairs break on the pair's text, so the result is
    deterministic.
    """
    byte_map = bytes_to_unicode()
    word_counts: Counter[str] = Counter()
    for text in corpus:
        for word in CLIP_WORD_RE.findall(text.lower()):
            word_counts["".join(byte_map[b] for b in word.encode("utf-8"))] += 1
    words = {w: [*w[:-1], w[-1] + "</w>"] for w in word_counts}
    merges: list[tuple[str, str]] = []
    while True:
        pairs: Counter[tuple[str, str]] = Counter()
        for word, symbols in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += word_counts[word]
        if not pairs:
            return merges
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for word, symbols in words.items():
            merged: list[str] = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            words[word] = merged


def write_clip_tokenizer(folder: Path, merges: Iterable[tuple[str, str]], model_max_length: int) -> dict[str, int]:
    """Write vocab.json, merges.txt and the tokenizer configs of a CLIPTokenizer; return the vocab.

    The vocabulary is every byte alone and word-final (so any text tokenizes), the merges, then
    the start/end tokens (end also pads, as in CLIP).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    merges = list(merges)
    vocab: dict[str, int] = {}
    byte_chars = list(bytes_to_unicode().values())
    for token in byte_chars + [c + "</w>" for c in byte_chars]:
        vocab.setdefault(token, len(vocab))
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    vocab[BOS_TOKEN] = len(vocab)
    vocab[EOS_TOKEN] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    merges_text = "#version: 0.2\n" + "".join(f"{left} {right}\n" for left, right in merges)
    (folder / "merges.txt").write_text(merges_text, encoding="utf-8")
    special = {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN, "unk_token": EOS_TOKEN, "pad_token": EOS_TOKEN}
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": model_max_length,
        "do_lower_case": True,
        "errors": "replace",
        "clean_up_tokenization_spaces": False,
        "add_prefix_space": False,
        **special,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")
    return vocab
