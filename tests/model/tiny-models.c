/* Tiny seeded random models, laid out as llama.cpp's converter writes
 * them. See tiny-models.h. */
#include "tiny-models.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/quant.h"
#include "model/ref.h"

void tiny_model_defaults(struct tiny_model_opts *o, enum tiny_arch arch) {
        memset(o, 0, sizeof(*o));
        o->arch = arch;
        o->seed = 1;
        o->type = GGML_TYPE_F32;
        o->n_vocab = 256;
        o->n_embd = 64;
        o->n_head = 4;
        o->n_ff = 96;
        o->yarn_factor = 4.0f;
        o->yarn_orig_ctx = 64;
        if (arch == TINY_DEEPSEEK2) {
                o->n_layer = 3;
                o->q_lora_rank = 32;
                o->kv_lora_rank = 32;
                o->qk_nope = 32;
                o->qk_rope = 16;
                o->v_head = 32;
                o->n_dense_lead = 1;
                o->n_expert = 8;
                o->n_expert_used = 2;
                o->n_expert_shared = 1;
                o->n_ff_exp = 32;
                o->weights_scale = 1.0f;
                o->kv_b = TINY_KV_B_SPLIT;
                o->mla_keys = true;
                o->yarn_log_mul = 0.1f; /* 0.1 * mscale_all_dim (1.0, as V3) */
        } else {
                o->n_layer = 2;
                o->n_head_kv = 2;
                o->head_dim = 16;
        }
}

/* ---- Named variants ---- */

const char *const tiny_model_variants[] = {
        "deepseek2-v3",
        "deepseek2-v3-yarn",
        "deepseek2-v2-lite",
        "deepseek2-v2-yarn-combined",
        "deepseek2-nogroups-nextn",
        "deepseek2-odd",
        "llama",
        "llama-mqa-rope-freqs",
        "qwen2",
        "qwen2-odd-tied",
        "qwen2-yarn",
        NULL,
};

/* Real layer shapes with few layers and experts, for benchmarks only (the
 * tests iterate the list above): kernels' work, not their count, decides. */
const char *const tiny_model_bench_variants[] = {
        "deepseek2-v2-lite-shapes",
        "llama-8b-shapes",
        NULL,
};

static void v3_routing(struct tiny_model_opts *o) {
        o->sigmoid = true;
        o->weights_norm = true;
        o->weights_scale = 2.5f;
        o->n_groups = 4;
        o->n_groups_used = 2;
}

int tiny_model_variant(const char *name, struct tiny_model_opts *o) {
        if (strncmp(name, "deepseek2", 9) == 0)
                tiny_model_defaults(o, TINY_DEEPSEEK2);
        else if (strncmp(name, "llama", 5) == 0)
                tiny_model_defaults(o, TINY_LLAMA);
        else if (strncmp(name, "qwen2", 5) == 0)
                tiny_model_defaults(o, TINY_QWEN2);
        else
                return -ENOENT;

        if (strcmp(name, "deepseek2-v3") == 0) {
                v3_routing(o);
        } else if (strcmp(name, "deepseek2-v3-yarn") == 0) {
                v3_routing(o);
                o->yarn = true;
                o->yarn_factor = 40.0f;
                o->yarn_orig_ctx = 16;
        } else if (strcmp(name, "deepseek2-v2-lite") == 0) {
                o->q_lora_rank = 0;
        } else if (strcmp(name, "deepseek2-v2-yarn-combined") == 0) {
                o->q_lora_rank = 0;
                o->kv_b = TINY_KV_B_COMBINED;
                o->mla_keys = false;
                o->weights_scale = 16.0f;
                o->yarn = true;
                o->yarn_log_mul = 0.0707f; /* 0.1 * mscale_all_dim 0.707 */
        } else if (strcmp(name, "deepseek2-nogroups-nextn") == 0) {
                v3_routing(o);
                o->n_groups = 0;
                o->n_groups_used = 0;
                o->n_dense_lead = 2;
                o->n_layer = 4;
                o->nextn = 1;
                o->nextn_tensors = true;
        } else if (strcmp(name, "deepseek2-odd") == 0) {
                v3_routing(o);
                o->n_vocab = 101;
                o->n_embd = 40;
                o->n_head = 3;
                o->q_lora_rank = 28;
                o->kv_lora_rank = 24;
                o->qk_nope = 12;
                o->qk_rope = 6;
                o->v_head = 20;
                o->n_ff = 52;
                o->n_expert = 6;
                o->n_expert_used = 3;
                o->n_groups = 3;
                o->n_groups_used = 2;
                o->n_ff_exp = 20;
                o->n_expert_shared = 2;
        } else if (strcmp(name, "deepseek2-v2-lite-shapes") == 0) {
                /* DeepSeek-V2-Lite's layers (config.json): 3 of its 27,
                 * 8 of its 64 experts (6 used), vocabulary 4096 of 102400:
                 * 2048 x 1408 expert matrices, 16 heads, MLA 512 + 64.
                 * Queries through a 1536 q_lora as V2 and V3 have it:
                 * llama.cpp takes a deepseek2 file without q_lora for Lite
                 * only when it has 27 layers, and refuses this one else. */
                o->n_vocab = 4096;
                o->n_embd = 2048;
                o->n_head = 16;
                o->q_lora_rank = 1536;
                o->kv_lora_rank = 512;
                o->qk_nope = 128;
                o->qk_rope = 64;
                o->v_head = 128;
                o->n_ff = 10944;
                o->n_expert = 8;
                o->n_expert_used = 6;
                o->n_expert_shared = 2;
                o->n_ff_exp = 1408;
                o->yarn_orig_ctx = 4096;
        } else if (strcmp(name, "llama-8b-shapes") == 0) {
                /* Llama 3 8B's layers: 2 of its 32, vocabulary 4096 */
                o->n_vocab = 4096;
                o->n_embd = 4096;
                o->n_head = 32;
                o->n_head_kv = 8;
                o->head_dim = 128;
                o->n_ff = 14336;
                o->yarn_orig_ctx = 8192;
        } else if (strcmp(name, "llama") == 0 || strcmp(name, "qwen2") == 0) {
                /* defaults: 4 heads over 2 key/value heads */
        } else if (strcmp(name, "llama-mqa-rope-freqs") == 0) {
                o->n_embd = 48;
                o->n_head = 6;
                o->n_head_kv = 1;
                o->head_dim = 8;
                o->rope_freqs = true;
        } else if (strcmp(name, "qwen2-yarn") == 0) {
                o->yarn = true;
                o->yarn_factor = 4.0f;
                o->yarn_orig_ctx = 16;
        } else if (strcmp(name, "qwen2-odd-tied") == 0) {
                o->n_vocab = 77;
                o->n_embd = 36;
                o->n_head = 6;
                o->n_head_kv = 3;
                o->head_dim = 6;
                o->n_ff = 50;
                o->tied_output = true;
        } else {
                return -ENOENT;
        }
        return 0;
}

/* ---- Seeded values ---- */

static uint64_t splitmix64(uint64_t *s) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

/* The generator of one tensor: the same (seed, name) gives the same values. */
static uint64_t name_seed(uint64_t seed, const char *name) {
        uint64_t h = 0xcbf29ce484222325ull;
        for (const char *p = name; *p; p++)
                h = (h ^ (uint8_t) *p) * 0x100000001b3ull;
        uint64_t s = seed ^ h;
        return splitmix64(&s);
}

/* offset + scale * uniform[-1, 1) */
static void fill(float *x, size_t n, uint64_t seed, const char *name, float scale, float offset) {
        uint64_t s = name_seed(seed, name);
        for (size_t i = 0; i < n; i++)
                x[i] = offset + scale * (float) ((splitmix64(&s) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

/* ---- Writing ---- */

struct gen {
        struct gguf_writer *w;
        const struct tiny_model_opts *o;
        const char *arch;
        int r; /* first error */
};

/* True when the key must not be written as asked: omitted, or written as a
 * string instead. */
static bool skip_key(struct gen *g, const char *key) {
        if (g->o->string_key && strcmp(g->o->string_key, key) == 0) {
                if (g->r >= 0)
                        g->r = gguf_writer_set_str(g->w, key, "x");
                return true;
        }
        return g->o->omit_key && strcmp(g->o->omit_key, key) == 0;
}

static void key_u32(struct gen *g, const char *suffix, uint32_t v) {
        char key[128];
        snprintf(key, sizeof(key), "%s.%s", g->arch, suffix);
        if (!skip_key(g, key) && g->r >= 0)
                g->r = gguf_writer_set_u32(g->w, key, v);
}

static void key_f32(struct gen *g, const char *suffix, float v) {
        char key[128];
        snprintf(key, sizeof(key), "%s.%s", g->arch, suffix);
        if (!skip_key(g, key) && g->r >= 0)
                g->r = gguf_writer_set_f32(g->w, key, v);
}

static void key_bool(struct gen *g, const char *suffix, bool v) {
        char key[128];
        snprintf(key, sizeof(key), "%s.%s", g->arch, suffix);
        if (!skip_key(g, key) && g->r >= 0)
                g->r = gguf_writer_set_bool(g->w, key, v);
}

static void key_str(struct gen *g, const char *key, const char *v) {
        if (!skip_key(g, key) && g->r >= 0)
                g->r = gguf_writer_set_str(g->w, key, v);
}

/* Adds a tensor of n_dims dims from f32 data, converting matrices to the
 * model's type and applying the requested breakage. */
static void add_tensor(struct gen *g, const char *name, const float *data, uint32_t n_dims, const uint64_t *ne_in) {
        const struct tiny_model_opts *o = g->o;
        uint64_t ne[GGUF_MAX_DIMS] = {ne_in[0], ne_in[1], ne_in[2], 1};
        uint64_t n = ne[0] * ne[1] * ne[2];
        if (g->r < 0 || (o->omit_tensor && strcmp(o->omit_tensor, name) == 0))
                return;

        if (o->raw_tensor && strcmp(o->raw_tensor, name) == 0) {
                uint64_t row;
                if (ggml_row_bytes(o->raw_type, ne[0], &row) < 0) {
                        g->r = -EINVAL;
                        return;
                }
                uint8_t *zero = calloc(row * (n / ne[0]), 1);
                if (!zero) {
                        g->r = -ENOMEM;
                        return;
                }
                g->r = gguf_writer_add_tensor(g->w, name, o->raw_type, n_dims, ne, zero, row * (n / ne[0]));
                free(zero);
                return;
        }

        _cleanup_free_ float *grown = NULL;
        if (o->bad_shape_tensor && strcmp(o->bad_shape_tensor, name) == 0) {
                /* one more row (or column for vectors), zero-filled */
                ne[n_dims - 1] += 1;
                uint64_t n2 = ne[0] * ne[1] * ne[2];
                if (!(grown = calloc(n2, sizeof(float)))) {
                        g->r = -ENOMEM;
                        return;
                }
                memcpy(grown, data, n * sizeof(float));
                data = grown;
                n = n2;
        }

        uint32_t type = GGML_TYPE_F32;
        const struct ggml_type_info *ti = ggml_type_info(o->type);
        if (n_dims >= 2 && ti && ne[0] % ti->block_size == 0)
                type = o->type;
        uint64_t row_bytes;
        if (ggml_row_bytes(type, ne[0], &row_bytes) < 0) {
                g->r = -EINVAL;
                return;
        }
        uint64_t n_rows = n / ne[0];
        uint8_t *buf = malloc(row_bytes * n_rows);
        if (!buf) {
                g->r = -ENOMEM;
                return;
        }
        for (uint64_t r = 0; r < n_rows && g->r >= 0; r++)
                g->r = ggml_quantize_row(type, data + r * ne[0], buf + r * row_bytes, ne[0]);
        if (g->r >= 0)
                g->r = gguf_writer_add_tensor(g->w, name, type, n_dims, ne, buf, row_bytes * n_rows);
        free(buf);
}

/* A tensor of seeded values: offset + scale * uniform[-1, 1). */
static void tensor(struct gen *g, const char *name, uint32_t n_dims, uint64_t ne0, uint64_t ne1, uint64_t ne2,
                   float scale, float offset) {
        uint64_t ne[3] = {ne0, ne1, ne2};
        _cleanup_free_ float *x = malloc(ne0 * ne1 * ne2 * sizeof(float));
        if (!x) {
                g->r = -ENOMEM;
                return;
        }
        fill(x, ne0 * ne1 * ne2, g->o->seed, name, scale, offset);
        add_tensor(g, name, x, n_dims, ne);
}

/* Weights scaled so that outputs have about the variance of inputs. */
static void matrix(struct gen *g, const char *name, uint64_t n_in, uint64_t n_out, uint64_t n_mat) {
        tensor(g, name, n_mat > 1 ? 3 : 2, n_in, n_out, n_mat, sqrtf(3.0f / (float) n_in), 0.0f);
}

static void norm(struct gen *g, const char *name, uint64_t n) {
        tensor(g, name, 1, n, 1, 1, 0.2f, 1.0f);
}

static const char *blk(char *buf, size_t size, uint32_t il, const char *suffix) {
        snprintf(buf, size, "blk.%u.%s", il, suffix);
        return buf;
}

static void common_keys(struct gen *g) {
        const struct tiny_model_opts *o = g->o;
        key_str(g, "general.architecture", g->arch);
        key_str(g, "general.name", "tiny");
        key_u32(g, "context_length", 4096); /* room for long-prompt tests */
        key_u32(g, "embedding_length", o->n_embd);
        key_u32(g, "block_count", o->n_layer + o->nextn);
        key_u32(g, "feed_forward_length", o->n_ff);
        key_u32(g, "attention.head_count", o->n_head);
        key_f32(g, "attention.layer_norm_rms_epsilon", 1e-6f);
        key_f32(g, "rope.freq_base", 10000.0f);
        key_u32(g, "vocab_size", o->n_vocab);
        if (o->yarn) {
                char key[64];
                snprintf(key, sizeof(key), "%s.rope.scaling.type", g->arch);
                key_str(g, key, o->rope_scaling ? o->rope_scaling : "yarn");
                key_f32(g, "rope.scaling.factor", o->yarn_factor);
                key_u32(g, "rope.scaling.original_context_length", o->yarn_orig_ctx);
                if (o->arch == TINY_DEEPSEEK2)
                        key_f32(g, "rope.scaling.yarn_log_multiplier", o->yarn_log_mul);
        }
}

static void io_tensors(struct gen *g) {
        const struct tiny_model_opts *o = g->o;
        tensor(g, "token_embd.weight", 2, o->n_embd, o->n_vocab, 1, 1.0f, 0.0f);
        norm(g, "output_norm.weight", o->n_embd);
        if (!o->tied_output)
                matrix(g, "output.weight", o->n_embd, o->n_vocab, 1);
}

static void write_llama(struct gen *g) {
        const struct tiny_model_opts *o = g->o;
        const bool qwen2 = o->arch == TINY_QWEN2;
        const uint64_t n_q = (uint64_t) o->n_head * o->head_dim, n_kv = (uint64_t) o->n_head_kv * o->head_dim;
        char name[96];

        common_keys(g);
        key_u32(g, "attention.head_count_kv", o->n_head_kv);
        key_u32(g, "attention.key_length", o->head_dim);
        key_u32(g, "attention.value_length", o->head_dim);
        key_u32(g, "rope.dimension_count", o->head_dim);
        io_tensors(g);
        if (o->rope_freqs && !qwen2)
                tensor(g, "rope_freqs.weight", 1, o->head_dim / 2, 1, 1, 1.5f, 2.5f); /* factors in [1, 4) */

        for (uint32_t il = 0; il < o->n_layer; il++) {
                norm(g, blk(name, sizeof(name), il, "attn_norm.weight"), o->n_embd);
                matrix(g, blk(name, sizeof(name), il, "attn_q.weight"), o->n_embd, n_q, 1);
                matrix(g, blk(name, sizeof(name), il, "attn_k.weight"), o->n_embd, n_kv, 1);
                matrix(g, blk(name, sizeof(name), il, "attn_v.weight"), o->n_embd, n_kv, 1);
                if (qwen2) {
                        tensor(g, blk(name, sizeof(name), il, "attn_q.bias"), 1, n_q, 1, 1, 0.5f, 0.0f);
                        tensor(g, blk(name, sizeof(name), il, "attn_k.bias"), 1, n_kv, 1, 1, 0.5f, 0.0f);
                        tensor(g, blk(name, sizeof(name), il, "attn_v.bias"), 1, n_kv, 1, 1, 0.5f, 0.0f);
                }
                matrix(g, blk(name, sizeof(name), il, "attn_output.weight"), n_q, o->n_embd, 1);
                norm(g, blk(name, sizeof(name), il, "ffn_norm.weight"), o->n_embd);
                matrix(g, blk(name, sizeof(name), il, "ffn_gate.weight"), o->n_embd, o->n_ff, 1);
                matrix(g, blk(name, sizeof(name), il, "ffn_up.weight"), o->n_embd, o->n_ff, 1);
                matrix(g, blk(name, sizeof(name), il, "ffn_down.weight"), o->n_ff, o->n_embd, 1);
        }
}

/* The decompression matrix of layer il, as the HF checkpoint has it:
 * (n_head*(qk_nope+v_head)) rows of kv_lora_rank, written combined or split
 * the way convert_hf_to_gguf.py splits it (k_b transposed). */
static void kv_b(struct gen *g, uint32_t il) {
        const struct tiny_model_opts *o = g->o;
        const uint64_t rank = o->kv_lora_rank, nope = o->qk_nope, nv = o->v_head, n_head = o->n_head;
        const uint64_t per_head = nope + nv;
        char name[96];
        _cleanup_free_ float *kvb = malloc(n_head * per_head * rank * sizeof(float));
        _cleanup_free_ float *kb = malloc(n_head * nope * rank * sizeof(float));
        _cleanup_free_ float *vb = malloc(n_head * nv * rank * sizeof(float));
        if (!kvb || !kb || !vb) {
                g->r = -ENOMEM;
                return;
        }
        fill(kvb, n_head * per_head * rank, o->seed, blk(name, sizeof(name), il, "attn_kv_b.weight"),
             sqrtf(3.0f / (float) rank), 0.0f);

        if (o->kv_b != TINY_KV_B_SPLIT)
                add_tensor(g, name, kvb, 2, (uint64_t[]){rank, n_head * per_head, 1});
        if (o->kv_b == TINY_KV_B_COMBINED)
                return;
        for (uint64_t h = 0; h < n_head; h++) {
                for (uint64_t d = 0; d < nope; d++)
                        for (uint64_t c = 0; c < rank; c++) /* k_b[h][c][d] = kv_b[h][d][c] */
                                kb[(h * rank + c) * nope + d] = kvb[(h * per_head + d) * rank + c];
                for (uint64_t d = 0; d < nv; d++)
                        memcpy(vb + (h * nv + d) * rank, kvb + (h * per_head + nope + d) * rank, rank * sizeof(float));
        }
        add_tensor(g, blk(name, sizeof(name), il, "attn_k_b.weight"), kb, 3, (uint64_t[]){nope, rank, n_head});
        add_tensor(g, blk(name, sizeof(name), il, "attn_v_b.weight"), vb, 3, (uint64_t[]){rank, nv, n_head});
}

static void deepseek2_layer(struct gen *g, uint32_t il) {
        const struct tiny_model_opts *o = g->o;
        const uint64_t n_embd = o->n_embd, n_q = (uint64_t) o->n_head * (o->qk_nope + o->qk_rope);
        char name[96];

        norm(g, blk(name, sizeof(name), il, "attn_norm.weight"), n_embd);
        if (o->q_lora_rank) {
                matrix(g, blk(name, sizeof(name), il, "attn_q_a.weight"), n_embd, o->q_lora_rank, 1);
                norm(g, blk(name, sizeof(name), il, "attn_q_a_norm.weight"), o->q_lora_rank);
                matrix(g, blk(name, sizeof(name), il, "attn_q_b.weight"), o->q_lora_rank, n_q, 1);
        } else {
                matrix(g, blk(name, sizeof(name), il, "attn_q.weight"), n_embd, n_q, 1);
        }
        matrix(g, blk(name, sizeof(name), il, "attn_kv_a_mqa.weight"), n_embd, o->kv_lora_rank + o->qk_rope, 1);
        norm(g, blk(name, sizeof(name), il, "attn_kv_a_norm.weight"), o->kv_lora_rank);
        kv_b(g, il);
        matrix(g, blk(name, sizeof(name), il, "attn_output.weight"), (uint64_t) o->n_head * o->v_head, n_embd, 1);
        norm(g, blk(name, sizeof(name), il, "ffn_norm.weight"), n_embd);

        if (il < o->n_dense_lead) {
                matrix(g, blk(name, sizeof(name), il, "ffn_gate.weight"), n_embd, o->n_ff, 1);
                matrix(g, blk(name, sizeof(name), il, "ffn_up.weight"), n_embd, o->n_ff, 1);
                matrix(g, blk(name, sizeof(name), il, "ffn_down.weight"), o->n_ff, n_embd, 1);
                return;
        }
        const uint64_t n_sh = (uint64_t) o->n_ff_exp * o->n_expert_shared;
        /* a sharper router, so that routing decisions are not near ties */
        tensor(g, blk(name, sizeof(name), il, "ffn_gate_inp.weight"), 2, n_embd, o->n_expert, 1,
               2.0f * sqrtf(3.0f / (float) n_embd), 0.0f);
        if (o->sigmoid)
                tensor(g, blk(name, sizeof(name), il, "exp_probs_b.bias"), 1, o->n_expert, 1, 1, 0.1f, 0.0f);
        matrix(g, blk(name, sizeof(name), il, "ffn_gate_exps.weight"), n_embd, o->n_ff_exp, o->n_expert);
        matrix(g, blk(name, sizeof(name), il, "ffn_up_exps.weight"), n_embd, o->n_ff_exp, o->n_expert);
        matrix(g, blk(name, sizeof(name), il, "ffn_down_exps.weight"), o->n_ff_exp, n_embd, o->n_expert);
        if (n_sh) {
                matrix(g, blk(name, sizeof(name), il, "ffn_gate_shexp.weight"), n_embd, n_sh, 1);
                matrix(g, blk(name, sizeof(name), il, "ffn_up_shexp.weight"), n_embd, n_sh, 1);
                matrix(g, blk(name, sizeof(name), il, "ffn_down_shexp.weight"), n_sh, n_embd, 1);
        }
}

static void write_deepseek2(struct gen *g) {
        const struct tiny_model_opts *o = g->o;
        char name[96];

        common_keys(g);
        if (o->q_lora_rank)
                key_u32(g, "attention.q_lora_rank", o->q_lora_rank);
        key_u32(g, "attention.kv_lora_rank", o->kv_lora_rank);
        if (o->mla_keys) {
                /* MLA as MQA: one shared key of latent + rope */
                key_u32(g, "attention.head_count_kv", 1);
                key_u32(g, "attention.key_length", o->kv_lora_rank + o->qk_rope);
                key_u32(g, "attention.value_length", o->kv_lora_rank);
                key_u32(g, "attention.key_length_mla", o->qk_nope + o->qk_rope);
                key_u32(g, "attention.value_length_mla", o->v_head);
        } else {
                key_u32(g, "attention.head_count_kv", o->n_head);
                key_u32(g, "attention.key_length", o->qk_nope + o->qk_rope);
                key_u32(g, "attention.value_length", o->v_head);
        }
        key_u32(g, "rope.dimension_count", o->qk_rope);
        key_u32(g, "leading_dense_block_count", o->n_dense_lead);
        key_u32(g, "expert_count", o->n_expert);
        key_u32(g, "expert_used_count", o->n_expert_used);
        key_u32(g, "expert_shared_count", o->n_expert_shared);
        key_u32(g, "expert_feed_forward_length", o->n_ff_exp);
        key_f32(g, "expert_weights_scale", o->weights_scale);
        key_bool(g, "expert_weights_norm", o->weights_norm);
        key_u32(g, "expert_gating_func", o->sigmoid ? 2 : 1);
        if (o->n_groups) {
                key_u32(g, "expert_group_count", o->n_groups);
                key_u32(g, "expert_group_used_count", o->n_groups_used);
        }
        if (o->nextn)
                key_u32(g, "nextn_predict_layers", o->nextn);
        io_tensors(g);

        for (uint32_t il = 0; il < o->n_layer; il++)
                deepseek2_layer(g, il);
        for (uint32_t il = o->n_layer; il < o->n_layer + o->nextn && o->nextn_tensors; il++) {
                deepseek2_layer(g, il);
                matrix(g, blk(name, sizeof(name), il, "nextn.eh_proj.weight"), 2 * (uint64_t) o->n_embd, o->n_embd, 1);
                norm(g, blk(name, sizeof(name), il, "nextn.enorm.weight"), o->n_embd);
                norm(g, blk(name, sizeof(name), il, "nextn.hnorm.weight"), o->n_embd);
                norm(g, blk(name, sizeof(name), il, "nextn.shared_head_norm.weight"), o->n_embd);
        }
}

/* GPT-2's byte-to-character map, as byte-level BPE vocabularies store bytes. */
static void byte_char(unsigned b, char out[3]) {
        unsigned cp = b;
        if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174))) {
                unsigned n = 0;
                for (unsigned x = 0; x < b; x++)
                        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174)))
                                n++;
                cp = 256 + n;
        }
        if (cp < 0x80) {
                out[0] = (char) cp;
                out[1] = 0;
        } else {
                out[0] = (char) (0xc0 | (cp >> 6));
                out[1] = (char) (0x80 | (cp & 0x3f));
                out[2] = 0;
        }
}

static void write_chat_tokenizer(struct gen *g) {
        static const char *const specials[] = {
                "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",
                "<think>", "</think>", "<｜▁pad▁｜>", "<｜tool▁calls▁begin｜>",
        };
        uint32_t n = g->o->n_vocab;
        char **tokens = calloc(n, sizeof(*tokens));
        int32_t *types = calloc(n, sizeof(*types));
        if (!tokens || !types || n < 256 + ELEMENTSOF(specials)) {
                g->r = -EINVAL;
                goto out;
        }
        for (uint32_t i = 0; i < n; i++) {
                tokens[i] = malloc(64);
                if (!tokens[i]) {
                        g->r = -ENOMEM;
                        goto out;
                }
                if (i < 256) {
                        byte_char(i, tokens[i]);
                        types[i] = 1; /* normal */
                } else if (i < 256 + ELEMENTSOF(specials)) {
                        snprintf(tokens[i], 64, "%s", specials[i - 256]);
                        /* <think> and </think> are user-defined (text) in DeepSeek's vocabulary */
                        types[i] = strstr(tokens[i], "think") ? 4 : 3;
                } else {
                        snprintf(tokens[i], 64, "<unused_%u>", i);
                        types[i] = 5;
                }
        }
        const char *merges[] = {"Ġ t", "h e", "Ġt he"};
        if (g->r >= 0) g->r = gguf_writer_set_str(g->w, "tokenizer.ggml.model", "gpt2");
        if (g->r >= 0) g->r = gguf_writer_set_str(g->w, "tokenizer.ggml.pre", "deepseek-v3");
        if (g->r >= 0) g->r = gguf_writer_set_arr_str(g->w, "tokenizer.ggml.tokens", (const char *const *) tokens, n);
        if (g->r >= 0) g->r = gguf_writer_set_arr(g->w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, n);
        if (g->r >= 0) g->r = gguf_writer_set_arr_str(g->w, "tokenizer.ggml.merges", merges, 0);
        if (g->r >= 0) g->r = gguf_writer_set_u32(g->w, "tokenizer.ggml.bos_token_id", 256);
        if (g->r >= 0) g->r = gguf_writer_set_u32(g->w, "tokenizer.ggml.eos_token_id", 257);
        if (g->r >= 0) g->r = gguf_writer_set_u32(g->w, "tokenizer.ggml.padding_token_id", 262);
        if (g->r >= 0) g->r = gguf_writer_set_bool(g->w, "tokenizer.ggml.add_bos_token", true);
        if (g->r >= 0) g->r = gguf_writer_set_bool(g->w, "tokenizer.ggml.add_eos_token", false);
        if (g->r >= 0) g->r = gguf_writer_set_str(g->w, "tokenizer.chat_template", g->o->chat_template);
out:
        for (uint32_t i = 0; tokens && i < n; i++)
                free(tokens[i]);
        free(tokens);
        free(types);
}

int tiny_model_write(const struct tiny_model_opts *o, uint8_t **ret_data, size_t *ret_size) {
        struct gen g = {
                .w = gguf_writer_new(),
                .o = o,
                .arch = o->arch == TINY_DEEPSEEK2 ? "deepseek2" : o->arch == TINY_LLAMA ? "llama" : "qwen2",
        };
        if (!g.w)
                return -ENOMEM;
        if (o->arch == TINY_DEEPSEEK2)
                write_deepseek2(&g);
        else
                write_llama(&g);
        if (o->chat_template)
                write_chat_tokenizer(&g);
        int r = g.r;
        if (r >= 0)
                r = gguf_writer_to_memory(g.w, ret_data, ret_size);
        gguf_writer_free(g.w);
        return r;
}

int tiny_model_save(const struct tiny_model_opts *o, const char *path, struct vkinfer_err *err) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        int r = tiny_model_write(o, &data, &size);
        if (r < 0)
                return err_set(err, r, "cannot build the tiny model");
        FILE *f = fopen(path, "wb");
        if (!f)
                return err_set(err, -errno, "cannot create %s", path);
        bool ok = fwrite(data, 1, size, f) == size;
        ok = fclose(f) == 0 && ok;
        return ok ? 0 : err_set(err, -EIO, "cannot write %s", path);
}

int tiny_model_load(const struct tiny_model_opts *o, struct tiny_model *ret, struct vkinfer_err *err) {
        struct tiny_model t = {0};
        int r = tiny_model_write(o, &t.data, &t.size);
        if (r < 0)
                return err_set(err, r, "cannot build the tiny model");
        r = gguf_open_memory(t.data, t.size, &t.file, err);
        if (r >= 0)
                r = model_load(t.file, &t.model, err);
        if (r < 0) {
                tiny_model_unload(&t);
                return r;
        }
        *ret = t;
        return 0;
}

void tiny_model_unload(struct tiny_model *t) {
        t->model = model_free(t->model);
        t->file = gguf_close(t->file);
        free(t->data);
        t->data = NULL;
}

void tiny_tokens(uint64_t seed, uint32_t n_vocab, int32_t *tokens, size_t n) {
        uint64_t s = seed * 0x2545f4914f6cdd1dull + 7;
        for (size_t i = 0; i < n; i++)
                tokens[i] = (int32_t) (splitmix64(&s) % n_vocab);
}

int tiny_model_ref_logits(const struct tiny_model_opts *o, int mla_form, const int32_t *tokens, size_t n,
                          float **ret_logits, struct vkinfer_err *err) {
        struct tiny_model t;
        struct ref_state *s = NULL;
        int r = tiny_model_load(o, &t, err);
        if (r < 0)
                return r;
        float *logits = malloc(n * t.model->hp.n_vocab * sizeof(float));
        if (!logits)
                r = err_set(err, -ENOMEM, "out of memory");
        if (r >= 0)
                r = ref_state_new(t.model, (uint32_t) n, (enum ref_mla_form) mla_form, &s, err);
        if (r >= 0)
                r = ref_forward(t.model, tokens, n, 0, s, logits, err);
        ref_state_free(s);
        tiny_model_unload(&t);
        if (r < 0) {
                free(logits);
                return r;
        }
        *ret_logits = logits;
        return 0;
}
