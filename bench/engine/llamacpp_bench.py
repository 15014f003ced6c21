"""llama.cpp baseline for the engine benchmark (crates/nuri-engine/examples/bench.rs), same GGUF.

Measures, through llama-cpp-python on the CPU, with n_ctx=2048 and greedy decoding (argmax of the
logits, i.e. temperature 0):
  - prompt processing tokens/s on the bench's ~530-token chat prompt (the user turn
    "The quick brown fox jumps over the lazy dog. " * 50 rendered with the GGUF's chat template),
  - time to first token for the bench's short text prompt
    ("Chapter 1. Once upon a time, in a kingdom far away, there lived"),
  - single-stream decode tokens/s over 128 generated tokens, defined like bench.rs:
    (tokens - 1) / (total time - time to first token); EOS is not a stop here,
  - peak RSS (VmHWM) of the process.
Each thread count runs in its own child process, so its peak RSS is its own. Each figure is the
median of --repeats runs after one warm-up run.

Not part of CI. Run in the scratch venv of llamacpp_token_ids.py:

    /work/venvs/llama/bin/python bench/engine/llamacpp_bench.py \
        models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf --threads 1 2
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

LONG_USER_TURN = "The quick brown fox jumps over the lazy dog. " * 50
STORY_PROMPT = "Chapter 1. Once upon a time, in a kingdom far away, there lived"


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def child(args):
    import jinja2.sandbox
    import llama_cpp
    import numpy as np

    t = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=args.gguf,
        n_ctx=2048,
        n_batch=2048,
        n_threads=args.child,
        n_threads_batch=args.child,
        verbose=False,
    )
    load_s = time.perf_counter() - t

    n_vocab = llm.n_vocab()

    def greedy():
        # Argmax of the last evaluated token's logits (llama-cpp-python 0.3.x no longer copies
        # them into llm.scores unless logits_all is set).
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))
        return int(np.argmax(logits))

    template = llm.metadata["tokenizer.chat_template"]
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    chat = env.from_string(template).render(
        messages=[{"role": "user", "content": LONG_USER_TURN}], add_generation_prompt=True
    )
    long_ids = llm.tokenize(chat.encode(), add_bos=False, special=True)

    def prompt_run():
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(long_ids)
        greedy()
        return time.perf_counter() - t0

    def story_run(n):
        llm.reset()
        t0 = time.perf_counter()
        # add_bos=True asks llama.cpp to add BOS only if the GGUF wants one, as the engine does.
        ids = llm.tokenize(STORY_PROMPT.encode(), add_bos=True, special=True)
        llm.eval(ids)
        tok = greedy()
        ttft = time.perf_counter() - t0
        out = [tok]
        while len(out) < n:
            llm.eval([tok])
            tok = greedy()
            out.append(tok)
        total = time.perf_counter() - t0
        return len(ids), ttft, total, out

    # Warm-up.
    prompt_run()
    story_run(8)

    pp = [prompt_run() for _ in range(args.repeats)]
    stories = [story_run(args.tokens) for _ in range(args.repeats)]
    first = stories[0][3]
    assert all(s[3] == first for s in stories), "greedy decoding is not deterministic"
    decode = [(args.tokens - 1) / (total - ttft) for _, ttft, total, _ in stories]
    text = llm.detokenize(first).decode(errors="replace")
    result = {
        "threads": args.child,
        "load_s": load_s,
        "prompt_tokens": len(long_ids),
        "prompt_s": statistics.median(pp),
        "prompt_tok_s": len(long_ids) / statistics.median(pp),
        "story_prompt_tokens": stories[0][0],
        "ttft_ms": statistics.median(s[1] for s in stories) * 1000.0,
        "decode_tokens": args.tokens,
        "decode_tok_s": statistics.median(decode),
        "decode_tok_s_all": decode,
        "eos_in_output": llm.token_eos() in first,
        "peak_rss_mb": peak_rss_mb(),
        "output_head": text[:120],
    }
    print(json.dumps(result))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)

    import importlib.metadata as md

    version = md.version("llama_cpp_python")
    before = loadavg()
    rows = []
    for n in args.threads:
        out = subprocess.run(
            [sys.executable, __file__, args.gguf, "--child", str(n), "--tokens", str(args.tokens),
             "--repeats", str(args.repeats)],
            check=True, capture_output=True, text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    after = loadavg()

    print(f"llama-cpp-python {version}, {os.path.basename(args.gguf)}, n_ctx 2048, greedy, "
          f"median of {args.repeats}; loadavg(1m) before {before}, after {after}; nice {os.nice(0)}")
    print(f"{'threads':>7} {'load s':>7} {'prompt tok':>10} {'prompt tok/s':>12} {'ttft ms':>8} "
          f"{'decode tok/s':>12} {'peak RSS MB':>11}")
    for r in rows:
        print(f"{r['threads']:>7} {r['load_s']:>7.2f} {r['prompt_tokens']:>10} {r['prompt_tok_s']:>12.0f} "
              f"{r['ttft_ms']:>8.1f} {r['decode_tok_s']:>12.1f} {r['peak_rss_mb']:>11.0f}")
    for r in rows:
        print(f"threads {r['threads']}: ttft prompt {r['story_prompt_tokens']} tokens; decode runs "
              f"{[round(x, 1) for x in r['decode_tok_s_all']]}; EOS generated: {r['eos_in_output']}; "
              f"output starts {r['output_head']!r}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"llama_cpp_python": version, "loadavg_before": before, "loadavg_after": after,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
