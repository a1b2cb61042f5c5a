"""Writes models/demo/README.md from the checkpoint and the exported figures."""

import hashlib
import os

import torch


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def _listing(gguf_path):
    """Keys (arrays by length) and the tensors of the file, blk.0 and blk.1 standing for the rest."""
    import gguf_writer as G
    kv, infos, _, _ = G._read(gguf_path)
    keys = []
    for k, v in kv.items():
        if isinstance(v, list):
            v = f"[{len(v)} items]"
        elif isinstance(v, str) and len(v) > 60:
            v = f"({len(v)} chars)"
        elif isinstance(v, float):
            v = f"{v:.7g}"
        keys.append(f"| `{k}` | {v} |")
    names = {0: "F32", 8: "Q8_0"}
    tens = [f"| `{n}` | {ne} | {names.get(t, t)} |" for n, ne, t, _ in infos
            if not n.startswith("blk.") or n.startswith(("blk.0.", "blk.1."))]
    return "\n".join(keys), "\n".join(tens)


def write(args, ck, cfg, tok, pj, greedy_text, gguf_path):
    a = ck["args"]
    rs = cfg.rope_scaling
    curve = "\n".join(f"| {c['step']} | {c['tokens']} | {c['loss']:.3f} | {c['seconds']:.0f} |"
                      for c in ck["curve"])
    size = os.path.getsize(gguf_path)
    keys, tens = _listing(gguf_path)
    import model as M
    inv_freq = ", ".join(f"{x:.9g}" for x in M.yarn_inv_freq(cfg).tolist())
    scale = M.softmax_scale(cfg)
    text = f"""# The demo model: a tiny DeepSeek-V3 trained on the King James Bible

`demo.gguf` is what vkinfer runs when no other model is configured. It has the
DeepSeek-V3 architecture (`deepseek2` in GGUF: MLA with q compression and a
compressed KV latent with a decoupled RoPE key, YaRN, one dense layer then MoE
layers with a shared expert, sigmoid routing with a correction bias,
group-limited top-k) at a size that trains on two CPU cores, so that a wrong
kernel shows up as a jump in perplexity rather than hiding in noise.

## Regenerate (from a fresh clone)

```sh
sudo apt-get install python3-torch python3-regex bible-kjv libopenblas0-pthread
/usr/bin/python3 tools/demo/train.py
```

That one command extracts the text, trains the BPE vocabulary and the model,
and writes `models/demo/demo.gguf`, this README and `tests/data/demo/`
(`--stage export` redoes only the export from `build-demo/checkpoint.pt`).
Seed {a['seed']}; the run is deterministic for a given thread count and
library build, but the figures below are not bit-for-bit reproducible across
machines.

## Data

The King James Version from Debian's `bible-kjv` package (public domain):
`bible -l100000 Gen1:1-Rev22:21`, verse numbers, book and chapter headings
stripped, one verse per line, a blank line between chapters. Training text:
the first 62 books ({ck['n_train_tokens']} tokens). Held out: {', '.join(ck['heldout_books'])}
({ck['n_heldout_tokens']} tokens); `tests/data/demo/heldout.txt` is their first
{pj['n_chunks']} chunks of {pj['ctx']} tokens.

## Vocabulary

{cfg.vocab_size} tokens: byte-level BPE trained by `tools/demo/bpe.py` on the
training text with the `deepseek-v3` pre-tokenizer (llama.cpp's
LLAMA_VOCAB_PRE_TYPE_DEEPSEEK3_LLM: the three regex splits of DeepSeek-V3's
tokenizer.json in sequence, then GPT-2's byte mapping); {len(tok.merges)} merges.
Ids: 0 `<｜begin▁of▁sentence｜>` (BOS), 1 `<｜end▁of▁sentence｜>` (EOS),
2 `<｜▁pad▁｜>`, 3..258 the 256 bytes, then the merged tokens, and last
`<｜User｜>`, `<｜Assistant｜>`, `<think>`, `</think>` (ids {cfg.vocab_size - 4}..{cfg.vocab_size - 1}).
All seven specials are CONTROL tokens (type 3). `add_bos_token` true,
`add_eos_token` false. The chat template is DeepSeek-V3's own.
The model was never trained on chat turns; the template is there so that the
chat path runs end to end.

## Architecture and hyperparameters (Hugging Face DeepSeek-V3 names)

| | |
|---|---|
| hidden_size / intermediate_size (dense layer) | {cfg.hidden_size} / {cfg.intermediate_size} |
| num_hidden_layers / first_k_dense_replace | {cfg.num_hidden_layers} / {cfg.first_k_dense_replace} |
| num_attention_heads | {cfg.num_attention_heads} |
| q_lora_rank / kv_lora_rank | {cfg.q_lora_rank} / {cfg.kv_lora_rank} |
| qk_nope_head_dim / qk_rope_head_dim / v_head_dim | {cfg.qk_nope_head_dim} / {cfg.qk_rope_head_dim} / {cfg.v_head_dim} |
| n_routed_experts / num_experts_per_tok / n_shared_experts | {cfg.n_routed_experts} / {cfg.num_experts_per_tok} / {cfg.n_shared_experts} |
| moe_intermediate_size | {cfg.moe_intermediate_size} |
| n_group / topk_group | {cfg.n_group} / {cfg.topk_group} |
| scoring_func / topk_method / norm_topk_prob / routed_scaling_factor | {cfg.scoring_func} / {cfg.topk_method} / {cfg.norm_topk_prob} / {cfg.routed_scaling_factor} |
| rope_theta / max_position_embeddings | {cfg.rope_theta:g} / {cfg.max_position_embeddings} |
| rope_scaling | yarn, factor {rs['factor']:g}, original_max_position_embeddings {rs['original_max_position_embeddings']}, beta_fast {rs['beta_fast']}, beta_slow {rs['beta_slow']}, mscale {rs['mscale']:g}, mscale_all_dim {rs['mscale_all_dim']:g} |
| rms_norm_eps / vocab_size / tie_word_embeddings | {cfg.rms_norm_eps:g} / {cfg.vocab_size} / {cfg.tie_word_embeddings} |
| parameters | {ck['n_params']} |

Conventions the C side must follow (all as llama.cpp's deepseek2):

- **RoPE pairs are adjacent**: the rope part of q and of the shared k is rotated
  as pairs (x[2i], x[2i+1]) with frequency i (llama.cpp rope type NORM). The
  PyTorch model does this directly, so no weight is permuted on export.
- **YaRN**: inv_freq_i = theta^(-2i/d) blended with inv_freq_i / factor by
  a linear ramp between the correction dims of beta_fast and beta_slow over
  original_context_length (as ggml's rope_yarn). cos/sin are not scaled
  (mscale = mscale_all_dim). The softmax scale is
  (qk_nope + qk_rope)^-0.5 * m^2 with m = 1 + yarn_log_multiplier * ln(factor)
  = 1 + 0.1 * mscale_all_dim * ln(factor). For this file: inv_freq =
  {inv_freq}, softmax scale {scale:.9f}.
- **Layouts** (rows of the PyTorch weights, i.e. ne[1] in GGUF): `attn_q_b` is
  head-major, each head [qk_nope | qk_rope]; `attn_kv_a_mqa` is
  [kv_lora latent | qk_rope shared key], only the latent goes through
  `attn_kv_a_norm`; `kv_b_proj` (the combined `attn_kv_b` of older files) is
  head-major, each head [k_nope | v]; `attn_output` takes the heads' v
  concatenated head-major. Positions start at 0 with BOS.
- **Routing**: s = sigmoid(ffn_gate_inp · x); choice = s + exp_probs_b; group score
  = sum of the 2 best choice values in each of n_group groups; keep topk_group
  groups (the others' experts get -inf, as in llama.cpp; Hugging Face's 0
  chose the same experts on the first 1024 held-out tokens); top-k experts by choice; weights = s of those experts
  (without the bias), divided by their sum, times expert_weights_scale; plus
  the shared expert.
- **MLA split tensors**: `kv_b_proj` is quantized to Q8_0 (as `attn_kv_b`,
  which is not written), then split as the converter does: `attn_k_b` (each
  head's k_nope rows, transposed) is stored in F32 and `attn_v_b` (the v rows)
  in Q8_0, so that both hold exactly those Q8_0 values: the absorbed and the
  expanded forms compute with the same weights.

## Training

AdamW (betas 0.9/0.95, weight decay 0.1 on matrices), lr {a['lr']:g} with {a['warmup']}
warmup steps then cosine to 10 %, gradient clip 1.0, {a['steps']} steps of
{a['batch']} x {a['seq_len']} tokens (each window's first token replaced by BOS),
expert bias updated after each step by ±{a['bias_speed']:g} toward balanced load
(DeepSeek-V3's auxiliary-loss-free balancing).
Wall time: {ck['wall_seconds'] / 60:.1f} min in all ({ck['train_loop_seconds'] / 60:.1f} min of
training steps), on {ck['date']}, a 2-core machine shared with other jobs
(loaded: other builds and fuzzers ran at the same time), torch {torch.__version__} with
OpenBLAS 2 threads and 1 intra-op thread.

| step | tokens seen | mean training loss (last interval) | seconds |
|---|---|---|---|
{curve}

## Results

- Held-out perplexity (`tests/data/demo/heldout.txt`, ctx {pj['ctx']}, {pj['n_chunks']} chunks,
  {pj['n_scored']} scored tokens, llama.cpp's convention, weights as stored in the file,
  float64): **PPL = {pj['ppl']:.4f}** (unquantized float32 weights: {pj['ppl_unquantized_f32']:.4f}).
- Greedy continuation of "And God said" (40 tokens, `tests/data/demo/greedy.json`):

```
And God said{greedy_text}
```

## The file

`demo.gguf`: {size} bytes, GGUF v3, alignment 32, sha256 `{_sha256(gguf_path)}`.
Matrices in Q8_0 except `attn_k_b` (F32, see above); norms, `ffn_gate_inp` and
`exp_probs_b` in F32. Keys, tensor names and tensors are those llama.cpp's
converter writes for DeepSeek-V3: the split `attn_k_b`/`attn_v_b` only, no
combined `attn_kv_b` (llama.cpp refuses a file with both); it loads and runs
in llama.cpp.

| key | value |
|---|---|
{keys}

Tensors (ne[0] first, as GGUF stores them; blk.2 and blk.3 are like blk.1):

| tensor | ne | type |
|---|---|---|
{tens}
"""
    with open(os.path.join(args.models, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)
