#!/usr/bin/python3
"""Rewrites a demo GGUF without its combined attn_kv_b tensors, every other
key, tensor and data byte kept as they are.

The first demo.gguf carried attn_kv_b beside the split attn_k_b/attn_v_b;
llama.cpp's converter writes only the split pair and llama.cpp refuses a
file with both ("wrong number of tensors; expected 74, got 70"). This moved
models/demo/demo.gguf to the converter's layout without retraining: the
weights, and so every reference in tests/data/demo/, stay the same.
export.py now writes this layout itself.

Before dropping attn_kv_b it checks that the split pair holds exactly its
values. Needs no numpy.

    /usr/bin/python3 tools/demo/drop_kv_b.py IN.gguf OUT.gguf
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer as G  # noqa: E402

A = "deepseek2"


def values(gtype, data):
    """The tensor's values in storage order, as floats."""
    if gtype == G.GGML_F32:
        return list(struct.unpack(f"<{len(data) // 4}f", data))
    assert gtype == G.GGML_Q8_0, gtype
    out = []
    for b in range(0, len(data), 34):
        d = struct.unpack_from("<e", data, b)[0]
        out += [d * q for q in struct.unpack_from("<32b", data, b + 2)]
    return out


def check_split(kv, tensors, i):
    """attn_k_b[h][c][j] == attn_kv_b[h*(nope+v) + j][c] and
    attn_v_b[h][j][c] == attn_kv_b[h*(nope+v) + nope + j][c]."""
    H = kv[f"{A}.attention.head_count"]
    r = kv[f"{A}.attention.kv_lora_rank"]
    nope = kv[f"{A}.attention.key_length_mla"] - kv[f"{A}.rope.dimension_count"]
    v = kv[f"{A}.attention.value_length_mla"]
    kvb = values(*tensors[f"blk.{i}.attn_kv_b.weight"])
    kb = values(*tensors[f"blk.{i}.attn_k_b.weight"])
    vb = values(*tensors[f"blk.{i}.attn_v_b.weight"])
    assert len(kvb) == H * (nope + v) * r and len(kb) == H * r * nope and len(vb) == H * v * r
    for h in range(H):
        for c in range(r):
            for j in range(nope):
                assert kb[(h * r + c) * nope + j] == kvb[(h * (nope + v) + j) * r + c], (i, h, c, j)
            for j in range(v):
                assert vb[(h * v + j) * r + c] == kvb[(h * (nope + v) + nope + j) * r + c], (i, h, c, j)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    entries, infos = G.read_file(sys.argv[1])
    kv = {k: val for k, _, val, _ in entries}
    tensors = {name: (gtype, data) for name, _, gtype, data in infos}
    w = G.Writer()
    for k, t, val, et in entries:
        w.add_array(k, et, val) if t == G.ARRAY else w.add(k, t, val)
    dropped = 0
    for name, ne, gtype, data in infos:
        if name.endswith(".attn_kv_b.weight"):
            check_split(kv, tensors, int(name.split(".")[1]))
            dropped += 1
            continue
        w.add_tensor_ne(name, ne, gtype, data)
    w.write(sys.argv[2])

    # Read back: the same keys, and each kept tensor with the same bytes.
    entries2, infos2 = G.read_file(sys.argv[2])
    assert entries2 == entries
    assert [(n, ne, t, d) for n, ne, t, d in infos if not n.endswith(".attn_kv_b.weight")] == infos2
    print(f"{sys.argv[2]}: {len(infos2)} tensors ({dropped} attn_kv_b dropped), "
          f"{os.path.getsize(sys.argv[2])} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
