"""Reference token ids and label masks of chat examples, independent of tunespec's TypeScript.

Renders conversations with Python's jinja2 the way transformers' apply_chat_template does (a
sandboxed environment with trim_blocks and lstrip_blocks, `raise_exception`, the special tokens
and `add_generation_prompt` in the context) and tokenizes with the Rust `tokenizers` library. The
learned part of each assistant turn is found as TRL's assistant masks find it: what rendering
`messages[:i+1]` adds to `messages[:i]` rendered with the generation prompt, cut after the
end-of-sequence token. Prompt/completion pairs are a user message and an assistant answer; without
a template, `prompt + completion + eos`. Each piece is tokenized on its own (no special tokens
added), and the pieces' ids concatenated: the layout test/data/chat.test.ts checks against.

Usage: python scripts/chat_reference.py <tiny-llama folder> <out.json>
"""

import json
import sys
from pathlib import Path

from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

# A template written over several lines, as most real ones are (SmolLM2-Instruct's, with its
# default system message): it checks that block tags are trimmed as transformers trims them.
SMOLLM2_STYLE = """{% for message in messages %}
  {% if loop.first and messages[0]['role'] != 'system' %}
    {{- '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' -}}
  {% endif %}
  {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}
{% endfor %}
{% if add_generation_prompt %}
  {{- '<|im_start|>assistant\\n' -}}
{% endif %}"""

RECORDS = [
    {"prompt": "Review: The film was nice.\nSentiment:", "completion": " positive"},
    {"prompt": "Say hi", "completion": "Hello there! 123"},
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "And 2+2?"}, {"role": "assistant", "content": "4"}]},
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour"}, {"role": "assistant", "content": "Blue"}]},
]


def special_tokens(config: dict) -> dict:
    out = {}
    for key in ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]:
        v = config.get(key)
        if isinstance(v, dict):
            v = v.get("content")
        if isinstance(v, str):
            out[key] = v
    return out


def renderer(template: str, special: dict):
    def raise_exception(message):
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    compiled = env.from_string(template)
    return lambda messages, gen: compiled.render(messages=messages, add_generation_prompt=gen, **special)


def example(record: dict, tok: Tokenizer, template, special: dict) -> dict:
    def enc(text):
        return tok.encode(text, add_special_tokens=False).ids if text else []

    eos = special.get("eos_token")
    if template is None:
        prompt = enc(record["prompt"])
        completion = enc(record["completion"]) + [tok.token_to_id(eos)]
        return {"ids": prompt + completion, "labels": [0] * len(prompt) + [1] * len(completion)}
    render = renderer(template, special)
    messages = record.get("messages") or [{"role": "user", "content": record["prompt"]}, {"role": "assistant", "content": record["completion"]}]
    full = render(messages, False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = render(messages[:i], True)
        upto = render(messages[: i + 1], False)
        assert upto.startswith(before) and full.startswith(upto), (before, upto)
        end = len(upto)
        k = upto.rfind(eos) if eos else -1
        if k >= len(before):
            end = k + len(eos)
        spans.append((len(before), end))
    ids, labels, at = [], [], 0
    for start, end in spans + [(len(full), len(full))]:
        for a, b, label in [(at, start, 0), (start, end, 1)]:
            piece = enc(full[a:b])
            ids += piece
            labels += [label] * len(piece)
        at = end
    return {"ids": ids, "labels": labels, "text": full}


def main() -> None:
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    special = special_tokens(config)
    templates = {"folder": config["chat_template"], "smollm2-style": SMOLLM2_STYLE, "none": None}
    cases = []
    for name, template in templates.items():
        for record in RECORDS:
            if template is None and "messages" in record:
                continue
            cases.append({"template": name, "record": record, **example(record, tok, template, special)})
    out.write_text(json.dumps({"smollm2_style_template": SMOLLM2_STYLE, "cases": cases}, indent=1) + "\n")
    print(f"wrote {out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
