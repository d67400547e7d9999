"""llama.cpp's side of bench/generation.ts (issue 16), through llama-cpp-python.

    python bench/llamacpp_generate.py convert SRC.gguf OUT.gguf --type f32|f16
    python bench/llamacpp_generate.py generate --model A.gguf [--model B.gguf ...] --prompt-ids 1,2,3
        [--new 128] [--threads 2] [--reps 1]

convert: llama.cpp's own quantizer (llama_model_quantize, what `llama-quantize` runs) with
allow_requantize, so the Q4_1 / Q8_0 tensors are dequantised and written as F32 or F16; the
F32 norms stay F32.

generate: per model, one untimed warm-up (the prompt and 4 tokens), then `--reps` greedy runs of
the prompt and `--new` tokens with the KV cache: llama_decode of the prompt, then one token at a
time, argmax of the last logits in NumPy (as tunespec takes the argmax of its logits in JS). One
JSON line per model: wall and process CPU seconds of each run (CPU time counts every thread of
the process), the prompt-and-first-token part separately, and the tokens chosen.
"""

import argparse
import ctypes
import json
import os
import sys
import time

import numpy as np

import llama_cpp
from llama_cpp import Llama

FTYPES = {"f32": llama_cpp.LLAMA_FTYPE_ALL_F32, "f16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16}


def convert(src: str, out: str, kind: str, threads: int) -> None:
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[kind]
    params.allow_requantize = True
    params.nthread = threads
    tmp = f"{out}.tmp-{os.getpid()}"
    rc = llama_cpp.llama_model_quantize(src.encode(), tmp.encode(), ctypes.byref(params))
    if rc != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        sys.exit(f"llama_model_quantize {src} -> {kind} failed with {rc}")
    os.replace(tmp, out)


def last_logits(llm: Llama) -> np.ndarray:
    # Llama.eval keeps logits in .scores only with logits_all; read the last position's from the context.
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))


def greedy(llm: Llama, prompt: list[int], new: int) -> dict:
    llm.reset()
    t0, c0 = time.perf_counter(), time.process_time()
    llm.eval(prompt)
    out = [int(np.argmax(last_logits(llm)))]
    t1, c1 = time.perf_counter(), time.process_time()
    while len(out) < new:
        llm.eval([out[-1]])
        out.append(int(np.argmax(last_logits(llm))))
    t2, c2 = time.perf_counter(), time.process_time()
    return {"wall": t2 - t0, "cpu": c2 - c0, "firstWall": t1 - t0, "firstCpu": c1 - c0, "tokens": out}


def generate(args: argparse.Namespace) -> None:
    prompt = [int(x) for x in args.prompt_ids.split(",")]
    for path in args.model:
        t0, c0 = time.perf_counter(), time.process_time()
        # n_batch covers the prompt, so it is one llama_decode call, as tunespec's is one forward pass.
        llm = Llama(
            model_path=path,
            n_ctx=len(prompt) + args.new + 16,
            n_batch=max(len(prompt), 32),
            n_threads=args.threads,
            n_threads_batch=args.threads,
            logits_all=False,
            verbose=False,
        )
        load = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
        greedy(llm, prompt, 4)
        runs = [greedy(llm, prompt, args.new) for _ in range(args.reps)]
        print(
            json.dumps(
                {
                    "model": path,
                    "threads": args.threads,
                    "llamaCppPython": llama_cpp.__version__,
                    "systemInfo": llama_cpp.llama_print_system_info().decode(),
                    "load": load,
                    "runs": runs,
                }
            ),
            flush=True,
        )
        del llm


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert")
    c.add_argument("src")
    c.add_argument("out")
    c.add_argument("--type", choices=sorted(FTYPES), default="f32")
    c.add_argument("--threads", type=int, default=2)
    g = sub.add_parser("generate")
    g.add_argument("--model", action="append", required=True)
    g.add_argument("--prompt-ids", required=True)
    g.add_argument("--new", type=int, default=128)
    g.add_argument("--threads", type=int, default=2)
    g.add_argument("--reps", type=int, default=1)
    args = p.parse_args()
    if args.cmd == "convert":
        convert(args.src, args.out, args.type, args.threads)
    else:
        generate(args)


if __name__ == "__main__":
    main()
