"""A tiny random causal LM and a character-level tokenizer, built in the test (nothing downloaded),
plus the answer parser and the plain-Python reference count the integration tests share."""
from __future__ import annotations

import os
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CHARS = "abcdefgh0123456789 +=?"
SPECIAL = ["<pad>", "<eos>", "<bos>", "<unk>"]


def char_tokenizer():
    """A ``PreTrainedTokenizerFast`` with one token per character of :data:`CHARS`."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIAL + list(CHARS))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
                                   unk_token="<unk>")


def tiny_llama(tokenizer, seed: int = 0):
    """A one-layer random Llama over the tokenizer's vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                      bos_token_id=tokenizer.bos_token_id, tie_word_embeddings=False)
    return LlamaForCausalLM(cfg)


def parse_answer(text: str):
    """The test's answer parser: None (unparseable) when the text is empty or starts with 0 or 1,
    else the class of its first character (three classes, so groups have repeated answers)."""
    text = text.strip()
    if not text or text[0] in "01":
        return None
    return "abc"[ord(text[0]) % 3]


def reference_rewards(answers, values, G: int, scale: float = 1.0) -> list[float]:
    """Plain Python: blocks of G in order; reward = values[#others in the block with the same answer]
    (None answers are distinct, count 0)."""
    if len(answers) % G:
        raise ValueError(f"{len(answers)} answers are not blocks of {G}")
    out = []
    for b in range(0, len(answers), G):
        block = answers[b:b + G]
        counts = Counter(a for a in block if a is not None)
        out += [float(values[0 if a is None else counts[a] - 1]) * scale for a in block]
    return out
