"""Reference token ids for SmolLM2's GGUF tokenizer, computed outside the engine.

Reference: Hugging Face `tokenizers` (Python; a different BPE implementation from the Rust
engine's), configured like SmolLM2's published tokenizer.json — BPE from the GGUF vocabulary and
merges, pre-tokenizer Digits(individual_digits) + ByteLevel(GPT-2 regex), and the 17 control tokens
as special tokens. Run in a scratch venv:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install gguf tokenizers
    /tmp/venv/bin/python bench/engine/reference_token_ids.py models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf

If `transformers` and `torch` are installed too, its own GGUF → tokenizer converter is used as a
second reference (it needs torch, which was not installed when the ids were recorded).
Prints one JSON line per sample; `crates/nuri-engine/tests/chat.rs` hard-codes the ids.
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
