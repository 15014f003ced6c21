"""Reference token ids for SmolLM2's GGUF tokenizer, computed outside the engine.

Two independent references (run in a scratch venv: `pip install gguf tokenizers transformers`):
  1. Hugging Face `tokenizers` (Python), configured like SmolLM2's published tokenizer.json:
     BPE from the GGUF vocab + merges, pre-tokenizer Digits(individual) + ByteLevel, and the
     control tokens as special tokens.
  2. `transformers`' own GGUF → fast-tokenizer converter (AutoTokenizer with gguf_file=...).
Prints one JSON line per sample with both id lists; the engine test hard-codes them.
"""
import json
import sys

from gguf import GGUFReader
from tokenizers import Tokenizer, AddedToken, models, pre_tokenizers, decoders

path = sys.argv[1]
r = GGUFReader(path)
tokens = r.fields["tokenizer.ggml.tokens"].contents()
merges = [tuple(m.split(" ", 1)) for m in r.fields["tokenizer.ggml.merges"].contents()]
types = r.fields["tokenizer.ggml.token_type"].contents()
tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
tok.pre_tokenizer = pre_tokenizers.Sequence(
    [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
)
tok.decoder = decoders.ByteLevel()
tok.add_special_tokens([AddedToken(t, special=True) for t, ty in zip(tokens, types) if ty == 3])

hf = None
try:
    import os
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
except Exception as e:  # noqa: BLE001
    print(f"# transformers reference unavailable: {e}", file=sys.stderr)

SAMPLES = [
    "Hello, world! How are you today?",
    "The year 2024 had 366 days; pi is 3.14159.",
    "안녕하세요, 서울은 한국의 수도입니다.",
    "Emoji: 🎉🚀 and café naïve",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "  leading spaces\n\n\ttabs and    runs  ",
]
for s in SAMPLES:
    a = tok.encode(s, add_special_tokens=False).ids
    b = hf.encode(s, add_special_tokens=False) if hf is not None else None
    print(json.dumps({"text": s, "tokenizers": a, "transformers": b, "agree": b is None or a == b}, ensure_ascii=False))
