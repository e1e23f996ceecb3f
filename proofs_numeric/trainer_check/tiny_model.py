"""The tiny causal LM the trainer check trains: a one-layer random Llama whose completion is one answer token.

The vocabulary is four special tokens, the prompt character ``?`` and ``answer_tokens`` answer letters
(``a``, ``b``, ...). The game's answer z is the letter number z; the model's other answer letters (when it has
more than the game has answers) and every non-answer token are suppressed during generation (``suppress_tokens``
in TRL's generation config), so a completion is exactly one of the game's m answer letters and the policy's answer
distribution is the softmax of the model's logits over those m letters at the prompt, which
:func:`answer_distribution` reads exactly (float64 from the model's float32 logits).

Why suppression keeps the trainer's update exact: TRL's loss takes log-probabilities over the whole vocabulary, so
the gradient of a completion's log-probability with respect to the logits is ``e_a - pi_full``; every TRL
advantage sums to zero over each group (a group mean is subtracted), and one-token completions all weigh the
same in the loss, so the ``pi_full`` terms cancel in the batch gradient, which is then the gradient for the
softmax restricted to the answer letters (the policy that is sampled).

The initial answer distribution is set exactly (uniform by default, as the game's dynamics start): the random
model's last hidden state at the prompt is fixed, and a rank-one change of the output layer gives any logits there.
"""
from __future__ import annotations

import os
import string

import numpy as np

__all__ = ["ANSWER_LETTERS", "PROMPT", "MAX_ANSWER_TOKENS", "SPECIAL_TOKENS", "DEFAULT_ANSWER_TOKENS",
           "check_answer_tokens", "TinyLM", "build_tiny_lm"]

ANSWER_LETTERS = string.ascii_lowercase
MAX_ANSWER_TOKENS = len(ANSWER_LETTERS)
PROMPT = "?"
SPECIAL_TOKENS = ("<pad>", "<eos>", "<bos>", "<unk>")
#: logit given to non-answer tokens at the prompt (relative to the answers' mean): their mass is ~e^-20
OFF_LOGIT = -20.0
HIDDEN, INTERMEDIATE, HEADS = 16, 32, 2


def _offline():
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(k, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


DEFAULT_ANSWER_TOKENS = 8


def check_answer_tokens(answer_tokens, m: int | None = None) -> int:
    """``answer_tokens`` must be an integer in [2, 26] and at least the game's number of answers ``m``; None means
    max(8, m) (the 5-answer games get 8 letters, a larger game one letter per answer)."""
    if answer_tokens is None:
        answer_tokens = max(DEFAULT_ANSWER_TOKENS, m or 0)
        if answer_tokens > MAX_ANSWER_TOKENS:
            raise ValueError(f"the game has {m} answers, more than the {MAX_ANSWER_TOKENS} answer letters the model "
                             f"can have")
    if isinstance(answer_tokens, bool) or not isinstance(answer_tokens, (int, np.integer)) or \
            not 2 <= int(answer_tokens) <= MAX_ANSWER_TOKENS:
        raise ValueError(f"answer_tokens must be an integer in [2, {MAX_ANSWER_TOKENS}] (one letter per answer), "
                         f"got {answer_tokens!r}")
    if m is not None and m > int(answer_tokens):
        raise ValueError(f"the game has {m} answers but the model has answer_tokens={int(answer_tokens)} answer "
                         f"tokens: give answer_tokens >= {m} (at most {MAX_ANSWER_TOKENS}), or a game with at most "
                         f"{int(answer_tokens)} answers")
    return int(answer_tokens)


class TinyLM:
    """Tokenizer, model and the token ids of the game's answers.

    Attributes: ``tokenizer`` (``PreTrainedTokenizerFast``), ``model`` (``LlamaForCausalLM``), ``m`` (answers of
    the game), ``answer_ids`` (token id of answer z), ``suppressed`` (every other token id), ``prompt_ids`` (the
    prompt as TRL tokenizes a plain-text prompt).
    """

    def __init__(self, tokenizer, model, m: int, answer_tokens: int):
        self.tokenizer, self.model, self.m, self.answer_tokens = tokenizer, model, m, answer_tokens
        vocab = tokenizer.get_vocab()
        self.answer_ids = [vocab[c] for c in ANSWER_LETTERS[:m]]
        self.suppressed = sorted(set(range(len(tokenizer))) - set(self.answer_ids))
        self.prompt_ids = tokenizer(text=[PROMPT])["input_ids"][0]

    def parse(self, text: str):
        """Answer index of a completion's text, or None when it is not one of the game's answer letters."""
        t = text.strip()
        return ANSWER_LETTERS.index(t) if len(t) == 1 and t in ANSWER_LETTERS[:self.m] else None

    def answer_logits(self, model=None):
        """float32 logits of the m answer tokens at the prompt (no gradient)."""
        import torch
        model = self.model if model is None else model
        was = model.training
        model.eval()
        with torch.no_grad():
            out = model(input_ids=torch.tensor([self.prompt_ids])).logits[0, -1]
        model.train(was)
        return out[self.answer_ids]

    def answer_distribution(self, model=None) -> np.ndarray:
        """The policy's answer distribution: softmax (float64) of the answer logits at the prompt."""
        z = self.answer_logits(model).double().numpy()
        z = np.exp(z - z.max())
        return z / z.sum()


def _tokenizer(answer_tokens: int):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(list(SPECIAL_TOKENS) + [PROMPT] + list(ANSWER_LETTERS[:answer_tokens]))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
                                   unk_token="<unk>")


def build_tiny_lm(m: int, *, answer_tokens: int | None = None, seed: int = 0, initial=None) -> TinyLM:
    """A random one-layer Llama (hidden size 16, about 3k parameters) with ``answer_tokens`` answer letters
    (default max(8, m)) whose answer distribution at the prompt is ``initial`` (default uniform over the m answers);
    non-answer tokens start at logit -20 there.

    ``seed`` draws the weights (torch's generator is seeded here).
    """
    _offline()
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    answer_tokens = check_answer_tokens(answer_tokens, m)
    tok = _tokenizer(answer_tokens)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=HIDDEN, intermediate_size=INTERMEDIATE, num_hidden_layers=1,
                      num_attention_heads=HEADS, num_key_value_heads=HEADS, max_position_embeddings=8,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
                      tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    lm = TinyLM(tok, model, m, answer_tokens)
    p0 = np.full(m, 1.0 / m) if initial is None else np.asarray(initial, dtype=np.float64)
    if p0.shape != (m,) or not np.all(p0 > 0) or abs(p0.sum() - 1) > 1e-9:
        raise ValueError(f"initial must be {m} probabilities > 0 summing to 1, got {initial!r}")
    target = torch.full((len(tok),), OFF_LOGIT, dtype=torch.float64)
    target[lm.answer_ids] = torch.from_numpy(np.log(p0) - np.log(p0).mean())
    model.eval()
    with torch.no_grad():
        h = model.model(input_ids=torch.tensor([lm.prompt_ids])).last_hidden_state[0, -1].double()
        W = model.lm_head.weight
        W.add_((torch.outer(target - W.double() @ h, h) / (h @ h)).to(W.dtype))
    model.train()
    return lm
