#!/usr/bin/python3
"""Recomputes the demo references from the GGUF file alone -- configuration
from its keys, tokenizer from its vocabulary, weights from its tensors (the
attention's kv_b rebuilt from the split attn_k_b/attn_v_b) -- and compares
them with tests/data/demo/. It proves the file, not the training checkpoint,
carries the model the references describe.

    /usr/bin/python3 tools/demo/check_gguf.py [models/demo/demo.gguf [tests/data/demo]]
"""

import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
import export  # noqa: E402
import gguf_writer as G  # noqa: E402
import model as M  # noqa: E402

A = "deepseek2"


def config_from_kv(kv):
    k_mla = kv[f"{A}.attention.key_length_mla"]
    rope = kv[f"{A}.rope.dimension_count"]
    mscale_all_dim = kv[f"{A}.rope.scaling.yarn_log_multiplier"] / 0.1
    return M.Config(
        vocab_size=kv[f"{A}.vocab_size"], hidden_size=kv[f"{A}.embedding_length"],
        intermediate_size=kv[f"{A}.feed_forward_length"],
        moe_intermediate_size=kv[f"{A}.expert_feed_forward_length"],
        num_hidden_layers=kv[f"{A}.block_count"], num_attention_heads=kv[f"{A}.attention.head_count"],
        num_key_value_heads=kv[f"{A}.attention.head_count"],
        q_lora_rank=kv[f"{A}.attention.q_lora_rank"], kv_lora_rank=kv[f"{A}.attention.kv_lora_rank"],
        qk_nope_head_dim=k_mla - rope, qk_rope_head_dim=rope,
        v_head_dim=kv[f"{A}.attention.value_length_mla"],
        n_routed_experts=kv[f"{A}.expert_count"], n_shared_experts=kv[f"{A}.expert_shared_count"],
        num_experts_per_tok=kv[f"{A}.expert_used_count"], n_group=kv[f"{A}.expert_group_count"],
        topk_group=kv[f"{A}.expert_group_used_count"], norm_topk_prob=kv[f"{A}.expert_weights_norm"],
        routed_scaling_factor=kv[f"{A}.expert_weights_scale"],
        first_k_dense_replace=kv[f"{A}.leading_dense_block_count"],
        rms_norm_eps=kv[f"{A}.attention.layer_norm_rms_epsilon"], rope_theta=kv[f"{A}.rope.freq_base"],
        max_position_embeddings=kv[f"{A}.context_length"],
        rope_scaling={"type": kv[f"{A}.rope.scaling.type"], "factor": kv[f"{A}.rope.scaling.factor"],
                      "original_max_position_embeddings": kv[f"{A}.rope.scaling.original_context_length"],
                      "beta_fast": kv[f"{A}.rope.scaling.yarn_beta_fast"],
                      "beta_slow": kv[f"{A}.rope.scaling.yarn_beta_slow"],
                      "mscale": mscale_all_dim, "mscale_all_dim": mscale_all_dim})


def main():
    gguf = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "demo", "demo.gguf")
    td = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "tests", "data", "demo")
    kv = G.read_kv(gguf)
    t = G.read_tensors(gguf)
    cfg = config_from_kv(kv)
    tok = bpe.Tokenizer.from_vocab(kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.token_type"],
                                   kv["tokenizer.ggml.merges"])
    tok.bos_id = kv["tokenizer.ggml.bos_token_id"]
    bad = 0
    # kv_b from the split tensors: per head, k_b[h] transposed then v_b[h].
    for i in range(cfg.num_hidden_layers):
        k_b, v_b = t[f"blk.{i}.attn_k_b.weight"], t[f"blk.{i}.attn_v_b.weight"]
        kv_b = np.concatenate([np.concatenate([k_b[h].T, v_b[h]]) for h in range(cfg.num_attention_heads)])
        # Files from before the converter's layout also carry the combined tensor.
        old = t.get(f"blk.{i}.attn_kv_b.weight")
        if old is not None and not np.array_equal(kv_b, old):
            print(f"blk.{i}: attn_k_b/attn_v_b do not rebuild attn_kv_b")
            bad += 1
        t[f"blk.{i}.attn_kv_b.weight"] = kv_b
    model = M.DeepseekV3(cfg).to(torch.float64)
    model.load_state_dict(export.reference_state_dict(cfg, model.state_dict(), t))
    model.eval()

    with open(os.path.join(td, "logits.json"), encoding="utf-8") as f:
        idx = json.load(f)
    blob = open(os.path.join(td, "logits.bin"), "rb").read()
    for p in idx["prompts"]:
        ids = tok.encode(p["text"], add_bos=True)
        if ids != p["ids"]:
            print(f"{p['name']}: tokenization differs")
            bad += 1
        ref = np.frombuffer(blob, dtype="<f4", count=p["n_tokens"] * cfg.vocab_size,
                            offset=p["offset_bytes"]).reshape(p["n_tokens"], cfg.vocab_size)
        got = export.forward_logits(model, p["ids"]).numpy()
        err = np.abs(got - ref).max()
        print(f"{p['name']}: {p['n_tokens']} tokens, max |logit difference| {err:.2e}")
        bad += err > 1e-4
    with open(os.path.join(td, "perplexity.json")) as f:
        pj = json.load(f)
    with open(os.path.join(td, pj["file"]), encoding="utf-8") as f:
        toks = tok.encode(f.read(), add_bos=True)
    ppl = export.perplexity(model, toks, pj["ctx"], tok.bos_id)[0]
    print(f"perplexity {ppl:.6f} (stored {pj['ppl']:.6f})")
    bad += not math.isclose(ppl, pj["ppl"], rel_tol=1e-9)
    print("ok" if not bad else f"{bad} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
