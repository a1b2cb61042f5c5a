"""Export of the trained demo model: the GGUF file (deepseek2, Q8_0), the
reference outputs of tests/data/demo/ and the figures of models/demo/README.md.

Every reference is computed by the PyTorch model in float64 with the weights
exactly as stored in the file (Q8_0 blocks dequantized, F32 tensors as is).
"""

import json
import math
import os
import struct
import time

import numpy as np
import torch

import bpe
import gguf_writer as G
import model as M

GGUF_NAME = "demo.gguf"
CTX_PPL = 128
N_PPL_CHUNKS = 40
# DeepSeek-V3's own chat_template (its tokenizer_config.json), copied beside this script.
TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deepseek-v3.jinja")

# Prompts for the logits reference: short ones, one with digits and
# punctuation, and a passage of the held-out text longer than CTX_PPL tokens.
PROMPTS = [
    ("and-god-said", "And God said"),
    ("in-the-beginning", "In the beginning"),
    ("psalm", "The LORD is my shepherd; I shall not want. 23:1-6, (Psalm 23)"),
]
LONG_PROMPT_TOKENS = 160


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- GGUF tensors ---------------------------------------------------------

# Quantized so that the split attn_k_b/attn_v_b can be derived from its
# stored values, but not written: llama.cpp's converter writes only the split
# pair, and llama.cpp refuses a file with both ("wrong number of tensors").
NOT_WRITTEN = ".attn_kv_b.weight"


def gguf_tensors(cfg, sd):
    """[(gguf name, numpy f32 array in PyTorch's [out, in] layout, ggml type)].
    Names and shapes are those of llama.cpp's converter for DeepSeek-V3, plus
    attn_kv_b (see NOT_WRITTEN)."""
    f = lambda k: sd[k].detach().to(torch.float32).numpy()  # noqa: E731
    H = cfg.num_attention_heads
    nope, vd, r = cfg.qk_nope_head_dim, cfg.v_head_dim, cfg.kv_lora_rank
    out = [("token_embd.weight", f("embed_tokens.weight"), G.GGML_Q8_0)]
    for i in range(cfg.num_hidden_layers):
        p = f"layers.{i}."
        b = f"blk.{i}."
        a = p + "self_attn."
        out += [
            (b + "attn_norm.weight", f(p + "input_layernorm.weight"), G.GGML_F32),
            (b + "attn_q_a.weight", f(a + "q_a_proj.weight"), G.GGML_Q8_0),
            (b + "attn_q_a_norm.weight", f(a + "q_a_layernorm.weight"), G.GGML_F32),
            (b + "attn_q_b.weight", f(a + "q_b_proj.weight"), G.GGML_Q8_0),
            (b + "attn_kv_a_mqa.weight", f(a + "kv_a_proj_with_mqa.weight"), G.GGML_Q8_0),
            (b + "attn_kv_a_norm.weight", f(a + "kv_a_layernorm.weight"), G.GGML_F32),
            (b + "attn_kv_b.weight", f(a + "kv_b_proj.weight"), G.GGML_Q8_0),
            # attn_k_b / attn_v_b are derived from attn_kv_b after its
            # quantization (see split_kv_b); placeholders keep the order.
            (b + "attn_k_b.weight", None, G.GGML_F32),
            (b + "attn_v_b.weight", None, G.GGML_Q8_0),
            (b + "attn_output.weight", f(a + "o_proj.weight"), G.GGML_Q8_0),
            (b + "ffn_norm.weight", f(p + "post_attention_layernorm.weight"), G.GGML_F32),
        ]
        m = p + "mlp."
        if i < cfg.first_k_dense_replace:
            out += [
                (b + "ffn_gate.weight", f(m + "gate_proj.weight"), G.GGML_Q8_0),
                (b + "ffn_up.weight", f(m + "up_proj.weight"), G.GGML_Q8_0),
                (b + "ffn_down.weight", f(m + "down_proj.weight"), G.GGML_Q8_0),
            ]
        else:
            E = cfg.n_routed_experts
            stack = lambda w: np.stack([f(f"{m}experts.{e}.{w}.weight") for e in range(E)])  # noqa: E731
            out += [
                (b + "ffn_gate_inp.weight", f(m + "gate.weight"), G.GGML_F32),
                (b + "exp_probs_b.bias", f(m + "gate.e_score_correction_bias"), G.GGML_F32),
                (b + "ffn_gate_exps.weight", stack("gate_proj"), G.GGML_Q8_0),
                (b + "ffn_up_exps.weight", stack("up_proj"), G.GGML_Q8_0),
                (b + "ffn_down_exps.weight", stack("down_proj"), G.GGML_Q8_0),
                (b + "ffn_gate_shexp.weight", f(m + "shared_experts.gate_proj.weight"), G.GGML_Q8_0),
                (b + "ffn_up_shexp.weight", f(m + "shared_experts.up_proj.weight"), G.GGML_Q8_0),
                (b + "ffn_down_shexp.weight", f(m + "shared_experts.down_proj.weight"), G.GGML_Q8_0),
            ]
    out += [
        ("output_norm.weight", f("norm.weight"), G.GGML_F32),
        ("output.weight", f("lm_head.weight"), G.GGML_Q8_0),
    ]
    return out


def split_kv_b(cfg, kv_b):
    """The converter's split of kv_b ([H*(nope+v), kv_lora]): k_b = the nope
    rows of each head, transposed ([H, kv_lora, nope]); v_b = the v rows
    ([H, v, kv_lora])."""
    H = cfg.num_attention_heads
    kv = kv_b.reshape(H, cfg.qk_nope_head_dim + cfg.v_head_dim, cfg.kv_lora_rank)
    k_b = np.ascontiguousarray(kv[:, :cfg.qk_nope_head_dim, :].transpose(0, 2, 1))
    v_b = np.ascontiguousarray(kv[:, cfg.qk_nope_head_dim:, :])
    return k_b, v_b


def quantize_all(cfg, tensors):
    """Quantizes; returns [(name, shape, type, bytes)] and {name: stored values as f32}."""
    stored = {}
    out = []
    for name, arr, gtype in tensors:
        if arr is None:
            blk = name.split(".")[1]
            k_b, v_b = split_kv_b(cfg, stored[f"blk.{blk}.attn_kv_b.weight"])
            arr = k_b if "attn_k_b" in name else v_b
        if gtype == G.GGML_Q8_0:
            raw, deq = G.quantize_q8_0(arr)
        else:
            deq = np.ascontiguousarray(arr, dtype=np.float32)
            raw = deq.tobytes()
        if "attn_k_b" in name or "attn_v_b" in name:
            # k_b is kept in F32 because requantizing it along its transposed
            # rows would change values; v_b's Q8_0 blocks are kv_b's blocks,
            # so requantizing them is exact. Either way the split tensors hold
            # exactly the values of attn_kv_b.
            blk = name.split(".")[1]
            k_ref, v_ref = split_kv_b(cfg, stored[f"blk.{blk}.attn_kv_b.weight"])
            assert np.array_equal(deq, k_ref if "attn_k_b" in name else v_ref), name
        stored[name] = deq
        out.append((name, arr.shape, gtype, raw))
    return out, stored


def reference_state_dict(cfg, sd, stored):
    """The model's state dict with every weight replaced by its stored value, float64."""
    ref = {k: v.clone().to(torch.float64) for k, v in sd.items()}
    t = lambda n: torch.from_numpy(stored[n].astype(np.float64))  # noqa: E731
    ref["embed_tokens.weight"] = t("token_embd.weight")
    ref["norm.weight"] = t("output_norm.weight")
    ref["lm_head.weight"] = t("output.weight")
    for i in range(cfg.num_hidden_layers):
        p, b = f"layers.{i}.", f"blk.{i}."
        a = p + "self_attn."
        ref[p + "input_layernorm.weight"] = t(b + "attn_norm.weight")
        ref[a + "q_a_proj.weight"] = t(b + "attn_q_a.weight")
        ref[a + "q_a_layernorm.weight"] = t(b + "attn_q_a_norm.weight")
        ref[a + "q_b_proj.weight"] = t(b + "attn_q_b.weight")
        ref[a + "kv_a_proj_with_mqa.weight"] = t(b + "attn_kv_a_mqa.weight")
        ref[a + "kv_a_layernorm.weight"] = t(b + "attn_kv_a_norm.weight")
        ref[a + "kv_b_proj.weight"] = t(b + "attn_kv_b.weight")
        ref[a + "o_proj.weight"] = t(b + "attn_output.weight")
        ref[p + "post_attention_layernorm.weight"] = t(b + "ffn_norm.weight")
        m = p + "mlp."
        if i < cfg.first_k_dense_replace:
            for hf, gg in (("gate_proj", "ffn_gate"), ("up_proj", "ffn_up"), ("down_proj", "ffn_down")):
                ref[f"{m}{hf}.weight"] = t(f"{b}{gg}.weight")
        else:
            ref[m + "gate.weight"] = t(b + "ffn_gate_inp.weight")
            ref[m + "gate.e_score_correction_bias"] = t(b + "exp_probs_b.bias")
            for hf, gg in (("gate_proj", "gate"), ("up_proj", "up"), ("down_proj", "down")):
                ex = t(f"{b}ffn_{gg}_exps.weight")
                for e in range(cfg.n_routed_experts):
                    ref[f"{m}experts.{e}.{hf}.weight"] = ex[e]
                ref[f"{m}shared_experts.{hf}.weight"] = t(f"{b}ffn_{gg}_shexp.weight")
    return ref


# ---- GGUF metadata --------------------------------------------------------

def write_gguf(path, cfg, tok, tensors, n_params):
    w = G.Writer()
    A = "deepseek2"
    rs = cfg.rope_scaling
    w.add("general.architecture", G.STRING, A)
    w.add("general.name", G.STRING, "vkinfer demo: tiny DeepSeek-V3 trained on the KJV Bible")
    w.add("general.file_type", G.UINT32, 7)  # LLAMA_FTYPE_MOSTLY_Q8_0
    w.add("general.quantization_version", G.UINT32, 2)
    w.add("general.license", G.STRING, "MIT")
    w.add(f"{A}.block_count", G.UINT32, cfg.num_hidden_layers)
    w.add(f"{A}.context_length", G.UINT32, cfg.max_position_embeddings)
    w.add(f"{A}.embedding_length", G.UINT32, cfg.hidden_size)
    w.add(f"{A}.feed_forward_length", G.UINT32, cfg.intermediate_size)
    w.add(f"{A}.attention.head_count", G.UINT32, cfg.num_attention_heads)
    # MLA runs as MQA over the latent: the converter writes 1.
    w.add(f"{A}.attention.head_count_kv", G.UINT32, 1)
    w.add(f"{A}.rope.scaling.type", G.STRING, "yarn")
    w.add(f"{A}.rope.scaling.factor", G.FLOAT32, float(rs["factor"]))
    w.add(f"{A}.rope.scaling.original_context_length", G.UINT32, rs["original_max_position_embeddings"])
    w.add(f"{A}.rope.scaling.yarn_beta_fast", G.FLOAT32, float(rs["beta_fast"]))
    w.add(f"{A}.rope.scaling.yarn_beta_slow", G.FLOAT32, float(rs["beta_slow"]))
    w.add(f"{A}.rope.freq_base", G.FLOAT32, cfg.rope_theta)
    w.add(f"{A}.attention.layer_norm_rms_epsilon", G.FLOAT32, cfg.rms_norm_eps)
    w.add(f"{A}.expert_used_count", G.UINT32, cfg.num_experts_per_tok)
    w.add(f"{A}.expert_group_count", G.UINT32, cfg.n_group)
    w.add(f"{A}.expert_group_used_count", G.UINT32, cfg.topk_group)
    w.add(f"{A}.expert_gating_func", G.UINT32, 2)  # 1 softmax, 2 sigmoid
    w.add(f"{A}.leading_dense_block_count", G.UINT32, cfg.first_k_dense_replace)
    w.add(f"{A}.vocab_size", G.UINT32, cfg.vocab_size)
    w.add(f"{A}.attention.q_lora_rank", G.UINT32, cfg.q_lora_rank)
    w.add(f"{A}.attention.kv_lora_rank", G.UINT32, cfg.kv_lora_rank)
    w.add(f"{A}.attention.key_length", G.UINT32, cfg.kv_lora_rank + cfg.qk_rope_head_dim)
    w.add(f"{A}.attention.value_length", G.UINT32, cfg.kv_lora_rank)
    w.add(f"{A}.attention.key_length_mla", G.UINT32, cfg.qk_nope_head_dim + cfg.qk_rope_head_dim)
    w.add(f"{A}.attention.value_length_mla", G.UINT32, cfg.v_head_dim)
    w.add(f"{A}.expert_feed_forward_length", G.UINT32, cfg.moe_intermediate_size)
    w.add(f"{A}.expert_count", G.UINT32, cfg.n_routed_experts)
    w.add(f"{A}.expert_shared_count", G.UINT32, cfg.n_shared_experts)
    w.add(f"{A}.expert_weights_scale", G.FLOAT32, cfg.routed_scaling_factor)
    w.add(f"{A}.expert_weights_norm", G.BOOL, cfg.norm_topk_prob)
    w.add(f"{A}.rope.dimension_count", G.UINT32, cfg.qk_rope_head_dim)
    w.add(f"{A}.rope.scaling.yarn_log_multiplier", G.FLOAT32, 0.1 * rs["mscale_all_dim"])
    w.add("tokenizer.ggml.model", G.STRING, "gpt2")
    w.add("tokenizer.ggml.pre", G.STRING, "deepseek-v3")
    w.add_array("tokenizer.ggml.tokens", G.STRING, tok.tokens)
    w.add_array("tokenizer.ggml.token_type", G.INT32, tok.token_types)
    w.add_array("tokenizer.ggml.merges", G.STRING, tok.merges_strings())
    w.add("tokenizer.ggml.bos_token_id", G.UINT32, tok.bos_id)
    w.add("tokenizer.ggml.eos_token_id", G.UINT32, tok.eos_id)
    w.add("tokenizer.ggml.padding_token_id", G.UINT32, tok.pad_id)
    w.add("tokenizer.ggml.add_bos_token", G.BOOL, True)
    w.add("tokenizer.ggml.add_eos_token", G.BOOL, False)
    with open(TEMPLATE, encoding="utf-8") as fh:
        w.add("tokenizer.chat_template", G.STRING, fh.read())
    for name, shape, gtype, raw in tensors:
        w.add_tensor(name, shape, gtype, raw)
    w.write(path)
    return w


# ---- references -----------------------------------------------------------

@torch.no_grad()
def forward_logits(model, ids):
    return model(torch.tensor([ids], dtype=torch.long))[0]


@torch.no_grad()
def perplexity(model, tokens, n_ctx, bos_id):
    """llama.cpp's perplexity: chunk k = tokens[k*n_ctx, (k+1)*n_ctx), first
    token replaced by BOS, positions n_ctx/2 .. n_ctx-2 scored predicting the next."""
    n_chunks = len(tokens) // n_ctx
    first = n_ctx // 2
    nll_sum, n = 0.0, 0
    per_chunk = []
    for k in range(n_chunks):
        chunk = list(tokens[k * n_ctx:(k + 1) * n_ctx])
        chunk[0] = bos_id
        logp = torch.log_softmax(forward_logits(model, chunk).to(torch.float64), dim=-1)
        tgt = torch.tensor(tokens[k * n_ctx + first + 1:(k + 1) * n_ctx])
        nll = -logp[first:n_ctx - 1].gather(1, tgt.unsqueeze(1)).squeeze(1)
        nll_sum += nll.sum().item()
        n += nll.numel()
        per_chunk.append(math.exp(nll_sum / n))
    return math.exp(nll_sum / n), nll_sum / n, n_chunks, n, per_chunk


@torch.no_grad()
def greedy(model, ids, n):
    ids = list(ids)
    out = []
    for _ in range(n):
        nxt = int(forward_logits(model, ids)[-1].argmax())
        out.append(nxt)
        ids.append(nxt)
    return out


def heldout_file_text(tok, held_text, n_ctx, n_chunks):
    """The shortest prefix of the held-out text, cut at a line end, whose
    tokens (BOS first) fill n_chunks chunks of n_ctx."""
    lines = held_text.split("\n")
    lo, hi = 1, len(lines)
    while lo < hi:  # binary search on the number of lines
        mid = (lo + hi) // 2
        text = "\n".join(lines[:mid]) + "\n"
        if 1 + len(tok.encode(text)) >= n_ctx * n_chunks:
            hi = mid
        else:
            lo = mid + 1
    return "\n".join(lines[:lo]) + "\n"


def run(args):
    import kjv
    ck = torch.load(os.path.join(args.work, "checkpoint.pt"))
    cfg = M.Config(**ck["config"])
    tok = bpe.Tokenizer([tuple(m) for m in ck["merges"]], cfg.vocab_size)
    os.makedirs(args.models, exist_ok=True)
    os.makedirs(args.testdata, exist_ok=True)

    tensors, stored = quantize_all(cfg, gguf_tensors(cfg, ck["state_dict"]))
    tensors = [t for t in tensors if not t[0].endswith(NOT_WRITTEN)]
    gguf_path = os.path.join(args.models, GGUF_NAME)
    write_gguf(gguf_path, cfg, tok, tensors, ck["n_params"])
    log(f"wrote {gguf_path} ({os.path.getsize(gguf_path)} bytes, {len(tensors)} tensors)")

    ref = M.DeepseekV3(cfg).to(torch.float64)
    ref.load_state_dict(reference_state_dict(cfg, ck["state_dict"], stored))
    ref.eval()
    f32 = M.DeepseekV3(cfg)
    f32.load_state_dict(ck["state_dict"])
    f32.eval()

    # Held-out text and perplexity.
    books = kjv.load_books()
    _, held_text, held_names = kjv.split(books, len(ck["heldout_books"]))
    text = heldout_file_text(tok, held_text, CTX_PPL, N_PPL_CHUNKS)
    with open(os.path.join(args.testdata, "heldout.txt"), "w", encoding="utf-8") as fh:
        fh.write(text)
    toks = tok.encode(text, add_bos=True)
    ppl, nll, n_chunks, n_scored, per_chunk = perplexity(ref, toks, CTX_PPL, tok.bos_id)
    ppl32 = perplexity(f32, toks, CTX_PPL, tok.bos_id)[0]
    log(f"perplexity: {ppl:.4f} stored Q8_0 weights, f64 ({ppl32:.4f} unquantized f32), "
        f"{n_chunks} chunks of {CTX_PPL}")
    pj = {
        "file": "heldout.txt",
        "source": f"KJV, first lines of the held-out books {held_names}",
        "ctx": CTX_PPL, "n_tokens": len(toks), "n_chunks": n_chunks,
        "n_scored": n_scored, "first_scored": CTX_PPL // 2,
        "mean_nll": nll, "ppl": ppl,
        "ppl_per_chunk_running": per_chunk,
        "ppl_unquantized_f32": ppl32,
        "method": "llama.cpp perplexity: BOS first, chunk k = tokens[k*ctx,(k+1)*ctx), "
                  "first token of each chunk replaced by BOS, positions ctx/2..ctx-2 scored "
                  "predicting the next token; PyTorch float64 forward with the stored weights",
    }
    with open(os.path.join(args.testdata, "perplexity.json"), "w") as fh:
        json.dump(pj, fh, indent=1)

    # Logits at every position of each prompt.
    # The lines after the perplexity text, up to LONG_PROMPT_TOKENS tokens.
    rest = held_text[len(text):].lstrip("\n").split("\n")
    n_lines = 1
    while len(tok.encode("\n".join(rest[:n_lines]))) < LONG_PROMPT_TOKENS and n_lines < len(rest):
        n_lines += 1
    long_text = "\n".join(rest[:n_lines])
    prompts = PROMPTS + [("heldout-passage", long_text)]
    index = {"file": "logits.bin", "dtype": "f32le", "vocab_size": cfg.vocab_size,
             "layout": "per prompt, n_tokens rows of vocab_size logits, row i = logits after token i",
             "weights": "stored values (Q8_0 dequantized), PyTorch float64 forward",
             "add_bos": True,
             "min_routing_margin": "smallest gap, over all tokens and MoE layers, between the last "
                                   "chosen and the first rejected group score or biased expert score",
             "prompts": []}
    blob = bytearray()
    for name, text_p in prompts:
        ids = tok.encode(text_p, add_bos=True)
        lg = forward_logits(ref, ids).numpy().astype("<f4")
        margin = min(float(moe.gate.last_margin.min()) for moe in ref.moe_layers())
        index["prompts"].append({"name": name, "text": text_p, "ids": ids, "n_tokens": len(ids),
                                 "offset_bytes": len(blob), "min_routing_margin": margin,
                                 "argmax": [int(i) for i in lg.argmax(axis=1)]})
        blob += lg.tobytes()
    with open(os.path.join(args.testdata, "logits.bin"), "wb") as fh:
        fh.write(blob)
    with open(os.path.join(args.testdata, "logits.json"), "w") as fh:
        json.dump(index, fh, indent=1, ensure_ascii=False)
    log(f"logits: {len(prompts)} prompts, {len(blob)} bytes")

    # Greedy text.
    prompt = "And God said"
    pids = tok.encode(prompt, add_bos=True)
    gen = greedy(ref, pids, 40)
    gtext = tok.decode(gen)
    with open(os.path.join(args.testdata, "greedy.json"), "w") as fh:
        json.dump({"prompt": prompt, "prompt_ids": pids, "n_predict": 40, "ids": gen,
                   "text": gtext, "method": "argmax of the float64 reference, no sampling"},
                  fh, indent=1, ensure_ascii=False)
    log(f"greedy: {prompt!r} -> {gtext!r}")

    import readme
    readme.write(args, ck, cfg, tok, pj, gtext, gguf_path)
