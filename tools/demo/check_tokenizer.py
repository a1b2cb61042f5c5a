#!/usr/bin/python3
"""Checks bpe.py's pre-tokenizer and merge loop against reference tokenizations
made by Hugging Face's implementation with the real DeepSeek-V3 vocabulary:

    /usr/bin/python3 tools/demo/check_tokenizer.py VOCAB.gguf CASES.jsonl

(e.g. deepseek-v3.gguf and deepseek-v3.jsonl of the project's shared test
data). Texts that contain a special token are skipped: bpe.py does not parse
them. Exits 1 on any mismatch."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import gguf_writer  # noqa: E402


def main():
    kv = gguf_writer.read_kv(sys.argv[1])
    tok = bpe.Tokenizer.from_vocab(kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.token_type"],
                                   kv["tokenizer.ggml.merges"])
    specials = [t for t, ty in zip(tok.tokens, tok.token_types) if ty != bpe.TOKEN_TYPE_NORMAL and len(t) > 1]
    n_ok = n_bad = n_skip = 0
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            case = json.loads(line)
            if any(s in case["text"] for s in specials):
                n_skip += 1
                continue
            got = tok.encode(case["text"])
            if got == case["ids"]:
                n_ok += 1
            else:
                n_bad += 1
                if n_bad <= 5:
                    print(f"mismatch: {case['text']!r}\n  got  {got}\n  want {case['ids']}")
    print(f"{n_ok} match, {n_bad} differ, {n_skip} skipped (special tokens)")
    return 1 if n_bad else 0


if __name__ == "__main__":
    sys.exit(main())
