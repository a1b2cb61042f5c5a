"""A DeepSeek-V3 decoder in PyTorch, hyperparameters named as in Hugging Face's
DeepSeek-V3 config.json, computation following its modeling_deepseek.py:

- MLA: q = q_b(rmsnorm(q_a(x))); [c_kv, k_pe] = kv_a_proj_with_mqa(x);
  [k_nope, v] = kv_b(rmsnorm(c_kv)); RoPE on q_pe and on the single shared k_pe.
- YaRN rope scaling, softmax scale = (qk_nope + qk_rope)^-0.5 * mscale^2 with
  mscale = 0.1 * mscale_all_dim * ln(factor) + 1 (cos/sin scaled by
  yarn_mscale(mscale) / yarn_mscale(mscale_all_dim), 1 when they are equal).
- first_k_dense_replace dense SwiGLU layers, then MoE: sigmoid scores,
  e_score_correction_bias added for the choice only, group-limited top-k
  (group score = sum of the two best biased scores in the group), weights =
  unbiased scores of the chosen experts, normalized (norm_topk_prob) and
  multiplied by routed_scaling_factor; plus n_shared_experts always-on experts.

One difference from Hugging Face, on purpose: RoPE rotates adjacent pairs
(x[2i], x[2i+1]) with frequency i, llama.cpp's rope type NORM that its deepseek2
graph uses. Hugging Face's DeepSeek-V3 gets the same result by permuting q_pe
and k_pe to the half-split layout before rotate_half, so weights trained here
are stored in GGUF without any permutation.

Groups masked out of the choice get -inf (never chosen), not 0 as in Hugging
Face's masked_fill: the two agree whenever the biased scores of the kept
groups are positive.
"""

import math
from dataclasses import dataclass, field, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab_size: int = 4096
    hidden_size: int = 256
    intermediate_size: int = 512
    moe_intermediate_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 4
    q_lora_rank: int = 128
    kv_lora_rank: int = 64
    qk_nope_head_dim: int = 32
    qk_rope_head_dim: int = 16
    v_head_dim: int = 32
    n_routed_experts: int = 8
    n_shared_experts: int = 1
    num_experts_per_tok: int = 2
    n_group: int = 4
    topk_group: int = 2
    norm_topk_prob: bool = True
    routed_scaling_factor: float = 2.5
    scoring_func: str = "sigmoid"
    topk_method: str = "noaux_tc"
    first_k_dense_replace: int = 1
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    max_position_embeddings: int = 1024
    rope_scaling: dict = field(default_factory=lambda: {
        "type": "yarn", "factor": 4.0, "original_max_position_embeddings": 256,
        "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0})
    tie_word_embeddings: bool = False
    hidden_act: str = "silu"
    bos_token_id: int = 0
    eos_token_id: int = 1

    def to_dict(self):
        return asdict(self)


def yarn_get_mscale(scale, mscale):
    if scale <= 1:
        return 1.0
    return 0.1 * mscale * math.log(scale) + 1.0


def yarn_inv_freq(cfg):
    """Per-pair inverse frequencies (qk_rope_head_dim / 2) after YaRN blending."""
    dim = cfg.qk_rope_head_dim
    base = cfg.rope_theta
    rs = cfg.rope_scaling
    factor = rs["factor"]
    orig = rs["original_max_position_embeddings"]
    idx = torch.arange(0, dim, 2, dtype=torch.float64) / dim
    freq_extra = 1.0 / (base ** idx)
    freq_inter = 1.0 / (factor * base ** idx)

    def corr_dim(rot):
        return (dim * math.log(orig / (rot * 2 * math.pi))) / (2 * math.log(base))
    low = max(math.floor(corr_dim(rs["beta_fast"])), 0)
    high = min(math.ceil(corr_dim(rs["beta_slow"])), dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
    extra_mask = 1.0 - ramp  # 1: keep the original frequency, 0: interpolate
    return freq_inter * (1 - extra_mask) + freq_extra * extra_mask


def softmax_scale(cfg):
    rs = cfg.rope_scaling
    scale = (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim) ** -0.5
    m = yarn_get_mscale(rs["factor"], rs["mscale_all_dim"])
    return scale * m * m


def rope_cos_sin(cfg, n_pos, dtype):
    inv = yarn_inv_freq(cfg)
    t = torch.arange(n_pos, dtype=torch.float64)
    ang = torch.outer(t, inv)
    rs = cfg.rope_scaling
    m = yarn_get_mscale(rs["factor"], rs["mscale"]) / yarn_get_mscale(rs["factor"], rs["mscale_all_dim"])
    return (ang.cos() * m).to(dtype), (ang.sin() * m).to(dtype)


def apply_rope_pairs(x, cos, sin):
    """x (..., T, d); rotates (x[2i], x[2i+1]) by angle pos * inv_freq[i]."""
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack((y0, y1), dim=-1).flatten(-2)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        v = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(v + self.eps))


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        H = cfg.num_attention_heads
        self.q_head_dim = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim
        self.q_a_proj = nn.Linear(cfg.hidden_size, cfg.q_lora_rank, bias=False)
        self.q_a_layernorm = RMSNorm(cfg.q_lora_rank, cfg.rms_norm_eps)
        self.q_b_proj = nn.Linear(cfg.q_lora_rank, H * self.q_head_dim, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(cfg.hidden_size, cfg.kv_lora_rank + cfg.qk_rope_head_dim, bias=False)
        self.kv_a_layernorm = RMSNorm(cfg.kv_lora_rank, cfg.rms_norm_eps)
        self.kv_b_proj = nn.Linear(cfg.kv_lora_rank, H * (cfg.qk_nope_head_dim + cfg.v_head_dim), bias=False)
        self.o_proj = nn.Linear(H * cfg.v_head_dim, cfg.hidden_size, bias=False)
        self.scale = softmax_scale(cfg)

    def forward(self, x, cos, sin):
        cfg = self.cfg
        B, T, _ = x.shape
        H = cfg.num_attention_heads
        q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        q = q.view(B, T, H, self.q_head_dim).transpose(1, 2)
        q_nope, q_pe = q.split([cfg.qk_nope_head_dim, cfg.qk_rope_head_dim], dim=-1)
        ckv = self.kv_a_proj_with_mqa(x)
        c, k_pe = ckv.split([cfg.kv_lora_rank, cfg.qk_rope_head_dim], dim=-1)
        k_pe = k_pe.view(B, 1, T, cfg.qk_rope_head_dim)
        kv = self.kv_b_proj(self.kv_a_layernorm(c))
        kv = kv.view(B, T, H, cfg.qk_nope_head_dim + cfg.v_head_dim).transpose(1, 2)
        k_nope, v = kv.split([cfg.qk_nope_head_dim, cfg.v_head_dim], dim=-1)
        q_pe = apply_rope_pairs(q_pe, cos[:T], sin[:T])
        k_pe = apply_rope_pairs(k_pe, cos[:T], sin[:T])
        # Scores as two sums (nope part + rope part) instead of concatenating.
        s = (q_nope @ k_nope.transpose(-1, -2) + q_pe @ k_pe.transpose(-1, -2)) * self.scale
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        s = s.masked_fill(mask, float("-inf"))
        p = torch.softmax(s, dim=-1)
        o = (p @ v).transpose(1, 2).reshape(B, T, H * cfg.v_head_dim)
        return self.o_proj(o)


class MLP(nn.Module):
    def __init__(self, hidden, inter):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inter, bias=False)
        self.up_proj = nn.Linear(hidden, inter, bias=False)
        self.down_proj = nn.Linear(inter, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Gate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.weight = nn.Parameter(torch.empty(cfg.n_routed_experts, cfg.hidden_size))
        nn.init.normal_(self.weight, std=0.02)
        # Not trained by gradient: nudged toward balanced load after each step.
        self.register_buffer("e_score_correction_bias", torch.zeros(cfg.n_routed_experts))

    def forward(self, x):
        """x (N, hidden) -> (topk_idx (N, k), topk_weight (N, k))."""
        cfg = self.cfg
        N = x.shape[0]
        logits = F.linear(x, self.weight)
        scores = logits.sigmoid()
        choice = scores.detach() + self.e_score_correction_bias.to(scores.dtype)
        per = cfg.n_routed_experts // cfg.n_group
        group_scores = choice.view(N, cfg.n_group, per).topk(2, dim=-1)[0].sum(-1)
        group_idx = group_scores.topk(cfg.topk_group, dim=-1, sorted=False)[1]
        group_mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1.0)
        score_mask = group_mask.unsqueeze(-1).expand(N, cfg.n_group, per).reshape(N, -1)
        choice = choice.masked_fill(score_mask == 0, float("-inf"))
        topk_idx = choice.topk(cfg.num_experts_per_tok, dim=-1, sorted=False)[1]
        if not self.training:
            # How close each token's routing came to a different choice: the
            # gap between the last kept and the first dropped group score and
            # expert score (a float32 implementation may flip near-ties).
            gs = group_scores.sort(dim=-1, descending=True)[0]
            cs = choice.sort(dim=-1, descending=True)[0]
            k = cfg.num_experts_per_tok
            gm = gs[:, cfg.topk_group - 1] - gs[:, cfg.topk_group] if cfg.topk_group < cfg.n_group \
                else torch.full_like(gs[:, 0], float("inf"))
            self.last_margin = torch.minimum(gm, cs[:, k - 1] - cs[:, k])
        w = scores.gather(1, topk_idx)
        if cfg.norm_topk_prob:
            w = w / (w.sum(dim=-1, keepdim=True) + 1e-20)
        return topk_idx, w * cfg.routed_scaling_factor


class MoE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.experts = nn.ModuleList([MLP(cfg.hidden_size, cfg.moe_intermediate_size)
                                      for _ in range(cfg.n_routed_experts)])
        self.gate = Gate(cfg)
        self.shared_experts = MLP(cfg.hidden_size, cfg.moe_intermediate_size * cfg.n_shared_experts)
        self.last_load = None

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        idx, w = self.gate(x)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            rows, slot = (idx == e).nonzero(as_tuple=True)
            if rows.numel() == 0:
                continue
            y = expert(x[rows]) * w[rows, slot].unsqueeze(-1)
            out = out.index_add(0, rows, y)
        self.last_load = torch.bincount(idx.flatten(), minlength=self.cfg.n_routed_experts)
        return (out + self.shared_experts(x)).view(shape)


class Layer(nn.Module):
    def __init__(self, cfg, i):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        if i < cfg.first_k_dense_replace:
            self.mlp = MLP(cfg.hidden_size, cfg.intermediate_size)
        else:
            self.mlp = MoE(cfg)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class DeepseekV3(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([Layer(cfg, i) for i in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self._rope = {}
        for n, p in self.named_parameters():
            if p.dim() == 2 and "gate.weight" not in n:
                nn.init.normal_(p, std=0.02)
        # GPT-2 style: shrink the projections that write into the residual.
        for n, p in self.named_parameters():
            if n.endswith("o_proj.weight") or n.endswith("down_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.num_hidden_layers))

    def rope(self, T, dtype):
        key = (T, dtype)
        if key not in self._rope:
            self._rope = {key: rope_cos_sin(self.cfg, max(T, 1), dtype)}
        return self._rope[key]

    def forward(self, ids):
        x = self.embed_tokens(ids)
        cos, sin = self.rope(ids.shape[1], x.dtype)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.norm(x))

    def moe_layers(self):
        return [l.mlp for l in self.layers if isinstance(l.mlp, MoE)]
