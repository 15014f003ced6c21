"""Token ids that llama.cpp (through llama-cpp-python) gives for SmolLM2's GGUF tokenizer.

A second, independent reference for the engine's tokenizer (issue #3): `reference_token_ids.py`
rebuilds the tokenizer with Hugging Face `tokenizers`; this asks llama.cpp itself. Each text is
tokenized with `tokenize(text.encode(), add_bos=False, special=True)`, so control tokens such as
`<|im_start|>` are parsed as single ids, as the engine does when it renders the chat template.

Not part of CI (llama-cpp-python builds llama.cpp from source, minutes of compiling). Run in a
scratch venv:

    python3 -m venv /work/venvs/llama && /work/venvs/llama/bin/pip install llama-cpp-python jinja2
    /work/venvs/llama/bin/python bench/engine/llamacpp_token_ids.py \
        models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf \
        --compare crates/nuri-engine/tests/chat.rs \
        --out crates/nuri-engine/tests/fixtures/llamacpp_token_ids.json

Prints the fixture JSON ({"header": {...}, "cases": [{"text", "ids"}, ...]}) to stdout, or writes it
to --out. With --compare, also reports (on stderr) every case whose ids differ from the
`REFERENCE_IDS` table in that Rust file, and exits 1 if any differs.
"""
import argparse
import glob
import hashlib
import os
import json
import re
import sys

import jinja2
import jinja2.sandbox
import llama_cpp

# The six strings of `REFERENCE_IDS` in crates/nuri-engine/tests/chat.rs, exactly.
REFERENCE_TEXTS = [
    "Hello, world! How are you today?",
    "The year 2024 had 366 days; pi is 3.14159.",
    "안녕하세요, 서울은 한국의 수도입니다.",
    "Emoji: 🎉🚀 and café naïve",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "  leading spaces\n\n\ttabs and    runs  ",
]

EDGE_CASES = [
    "1234567890",
    "3.14159e-10",
    "Nuri는 AI 게이트웨이입니다",
    "똠방각하 뷁",
    "👩\u200d👩\u200d👧 👍🏽",
    "東京 北京",
    "I'm don't we'll they've",
    'fn main() { println!("hi"); }',
    "a\n\n\nb\r\nc\t\td",
    "https://example.com/v1/chat/completions?model=smollm2&stream=true#frag",
    "     ",
    "é",
    # Other corners of the pre-tokenizer and of control-token parsing.
    "",
    " ",
    "\n",
    "Don't SHOUT: I'VE WE'LL",
    "100,000.00 $ and 1e9",
    "<|im_end|>",
    "<|im_start|><|im_end|>",
    "text<|endoftext|>more",
    "<|im_start |> not a control token",
    "trailing spaces   \nnext line",
]

CHAT_MESSAGES = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "안녕?"},
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def render_chat(template, messages, bos_token, eos_token):
    """Renders like transformers' apply_chat_template (sandboxed jinja2, trim/lstrip blocks)."""

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(
        messages=messages,
        add_generation_prompt=True,
        bos_token=bos_token,
        eos_token=eos_token,
    )


def lib_versions():
    """Versions of the shared libraries llama-cpp-python built (the sdist records no git commit)."""
    libdir = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
    found = []
    for name in ("libllama", "libggml-base"):
        for f in sorted(glob.glob(os.path.join(libdir, name + ".so.*.*.*"))):
            found.append(os.path.basename(f))
    return ", ".join(found) or "library versions unknown"


def rust_unescape(s):
    simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}

    def one(m):
        body = m.group(1)
        if body.startswith("u{"):
            return chr(int(body[2:-1], 16))
        if body.startswith("x"):
            return chr(int(body[1:], 16))
        return simple[body]

    return re.sub(r"\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)", one, s)


def read_reference_ids(rust_file):
    """The (text, ids) pairs of `REFERENCE_IDS` in a Rust test file."""
    src = open(rust_file, encoding="utf-8").read()
    start = src.index("REFERENCE_IDS")
    end = src.index("];", start)
    pairs = re.findall(r'\(\s*"((?:[^"\\]|\\.)*)",\s*&\[([\d,\s]*)\],?\s*\)', src[start:end], re.S)
    return [(rust_unescape(t), [int(x) for x in ids.replace(",", " ").split()]) for t, ids in pairs]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("--compare", metavar="RUST_FILE", help="check against REFERENCE_IDS there")
    ap.add_argument("--out", metavar="JSON_FILE")
    args = ap.parse_args()

    llm = llama_cpp.Llama(model_path=args.gguf, vocab_only=True, verbose=False)
    meta = llm.metadata
    template = meta["tokenizer.chat_template"]
    token_text = lambda i: llm._model.token_get_text(i)  # noqa: E731
    bos = token_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
    eos = token_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
    chat_prompt = render_chat(template, CHAT_MESSAGES, bos, eos)

    texts = REFERENCE_TEXTS + EDGE_CASES + [chat_prompt]
    cases = []
    for text in texts:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        case = {"text": text, "ids": ids}
        if text is chat_prompt:
            case["note"] = "chat template from the GGUF rendered with jinja2 for " + json.dumps(
                CHAT_MESSAGES, ensure_ascii=False
            ) + ", add_generation_prompt=True"
        cases.append(case)

    try:
        import importlib.metadata as md

        lcp_version = md.version("llama_cpp_python")
    except Exception:  # noqa: BLE001
        lcp_version = getattr(llama_cpp, "__version__", "unknown")
    system_info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    header = {
        "generator": "bench/engine/llamacpp_token_ids.py",
        "tokenize": "Llama(vocab_only=True).tokenize(text.encode('utf-8'), add_bos=False, special=True)",
        "llama_cpp_python": lcp_version,
        "llama_cpp": "the llama.cpp vendored in llama-cpp-python " + lcp_version + ", " + lib_versions(),
        "llama_cpp_system_info": system_info,
        "gguf_file": args.gguf.rsplit("/", 1)[-1],
        "gguf_sha256": sha256(args.gguf),
        "gguf_tokenizer_pre": meta.get("tokenizer.ggml.pre"),
        "gguf_tokenizer_model": meta.get("tokenizer.ggml.model"),
        "gguf_add_bos_token": meta.get("tokenizer.ggml.add_bos_token"),
        "reference_ids_cases": len(REFERENCE_TEXTS),
    }
    doc = {"header": header, "cases": cases}
    out = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(out)
    else:
        sys.stdout.write(out)

    if args.compare:
        ours = {c["text"]: c["ids"] for c in cases}
        refs = read_reference_ids(args.compare)
        if [t for t, _ in refs] != REFERENCE_TEXTS:
            print("REFERENCE_IDS texts differ from REFERENCE_TEXTS:", [t for t, _ in refs], file=sys.stderr)
            sys.exit(2)
        bad = 0
        for text, ref in refs:
            got = ours[text]
            if got == ref:
                print(f"match    {text!r}: {len(ref)} ids", file=sys.stderr)
            else:
                bad += 1
                print(f"MISMATCH {text!r}\n  REFERENCE_IDS: {ref}\n  llama.cpp:     {got}", file=sys.stderr)
        print(f"{len(refs) - bad}/{len(refs)} reference id lists match llama.cpp", file=sys.stderr)
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
