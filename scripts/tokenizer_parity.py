"""Write the tokenizer parity fixture: ids from Hugging Face's Rust `tokenizers` for tricky strings.

tunespec tokenizes with the pure-JS `@huggingface/tokenizers` plus its own truncation, padding and
token type ids; test/data/tokenize.test.ts checks its output equals what this script records from
the reference implementation, byte for byte.

Usage (Python `tokenizers` from PyPI in a git-ignored venv):
    python3 -m venv .venv-text && .venv-text/bin/pip install tokenizers
    .venv-text/bin/python scripts/tokenizer_parity.py test/fixtures/text/minilm
"""

import hashlib
import json
import sys
from pathlib import Path

from tokenizers import Tokenizer
import tokenizers

SINGLES = [
    "Hello, world!",
    "HELLO World hello",
    "The movie was not bad at all.",
    "Café, naïve, résumé, déjà vu, Ångström, façade",
    "Crème brûlée à la française",
    "ÉCOLE ÉLÉMENTAIRE",
    "I love it 😍😍 so much!!! 🎬🍿",
    "👍🏽 thumbs up with a skin tone",
    "family: 👨‍👩‍👧‍👦",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 120,
    "我喜欢这部电影",
    "日本語のテキストとカタカナ",
    "한국어 문장입니다",
    "Mixed 中文 and English words",
    "https://example.com/path?query=1&b=two#frag",
    "mail me at someone@example.org or visit www.example.co.uk",
    "   leading and trailing spaces   ",
    "tabs\tand\nnew\r\nlines",
    "multiple     internal      spaces",
    "non\u00a0breaking\u2009thin\u200bzero-width",
    "control\u0000chars\u0007here",
    "",
    "    ",
    "numbers 3.14159 and 1,000,000 and 2nd 42nd",
    "it's don't won't y'all",
    "\u201csmart quotes\u201d \u2018single\u2019 \u2014 em dash \u2013 en dash \u2026",
    "punctuation!?!?... (brackets) [square] {curly} <angle>",
    "#hashtag @mention $money 100% a&b",
    "[CLS] literal special tokens [SEP] in [MASK] text [PAD]",
    "[unk] lower-case lookalike",
    "Ελληνικά και русский текст",
    "עברית ועברית العربية",
    "हिन्दी पाठ",
    "ﬁ ligature and ｆｕｌｌｗｉｄｔｈ letters",
    "x" * 101,
    "word " * 80,
]

PAIRS = [
    ("The film was great.", "I would watch it again."),
    ("Is this a question?", "Yes, it is."),
    ("short", "a much longer second segment that keeps going and going with many more words than the first"),
    ("a much longer first segment that keeps going and going with many more words than the second", "short"),
    ("equal length one two three four five six", "equal length seven eight nine ten eleven twelve"),
    ("Café déjà vu 😍", "我喜欢这部电影"),
    ("", "only the second segment"),
    ("only the first segment", ""),
    ("one", "two"),
    ("https://example.com/a/b/c", "emoji 🎬 and CJK 日本"),
    ("word " * 40, "word " * 40),
    ("odd " * 7, "even " * 30),
]

LENGTHS_SINGLE = [64, 10]
LENGTHS_PAIR = [64, 9, 16]


def encode(tok: Tokenizer, max_length: int, text: str, pair: str | None) -> dict:
    tok.enable_truncation(max_length=max_length, strategy="longest_first", stride=0)
    tok.enable_padding(length=max_length, pad_id=0, pad_type_id=0, pad_token="[PAD]")
    enc = tok.encode(text, pair) if pair is not None else tok.encode(text)
    case = {"text": text}
    if pair is not None:
        case["text_pair"] = pair
    case.update(
        max_length=max_length,
        ids=enc.ids,
        attention_mask=enc.attention_mask,
        token_type_ids=enc.type_ids,
    )
    return case


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/text/minilm")
    raw = (folder / "tokenizer.json").read_bytes()
    tok = Tokenizer.from_str(raw.decode("utf-8"))
    cases = [encode(tok, n, t, None) for t in SINGLES for n in LENGTHS_SINGLE]
    cases += [encode(tok, n, a, b) for a, b in PAIRS for n in LENGTHS_PAIR]
    out = {
        "generator": f"scripts/tokenizer_parity.py with tokenizers {tokenizers.__version__} (Rust)",
        "tokenizer_sha256": hashlib.sha256(raw).hexdigest(),
        "truncation": "longest_first",
        "padding": "right, to max_length, [PAD] id 0, type id 0",
        "cases": cases,
    }
    target = folder / "parity.json"
    # One case per line keeps the fixture small and its diffs readable.
    lines = ",\n".join("    " + json.dumps(c, ensure_ascii=False) for c in cases)
    head = json.dumps({k: v for k, v in out.items() if k != "cases"}, ensure_ascii=False, indent=2)[:-2]
    target.write_text(f'{head},\n  "cases": [\n{lines}\n  ]\n}}\n', encoding="utf-8")
    print(f"{len(cases)} cases ({len(SINGLES)} texts, {len(PAIRS)} pairs) -> {target}")


if __name__ == "__main__":
    main()
