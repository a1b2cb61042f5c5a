/* Tiny seeded random models of every supported architecture and variant,
 * written with the project's GGUF writer the way llama.cpp's converter lays
 * them out. A helper library for tests (model, vk, golden).
 *
 * Every tensor's values come from a generator seeded by (seed, tensor
 * name), so two variants of the same seed share every weight they have in
 * common: a model with split attn_k_b/attn_v_b and one with the combined
 * attn_kv_b compute the same function, and so do a model with and without
 * NextN layers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf/gguf.h"
#include "model/model.h"

enum tiny_arch {
        TINY_DEEPSEEK2,
        TINY_LLAMA,
        TINY_QWEN2,
};

enum tiny_kv_b {
        TINY_KV_B_SPLIT,    /* attn_k_b + attn_v_b (today's converter) */
        TINY_KV_B_COMBINED, /* attn_kv_b (older files) */
        TINY_KV_B_BOTH,
};

struct tiny_model_opts {
        enum tiny_arch arch;
        uint64_t seed;
        /* Type of the weight matrices whose rows fit its block size; norms,
         * biases and other rows stay F32 (as llama.cpp's quantizer does). */
        uint32_t type;

        /* Sizes (all archs) */
        uint32_t n_vocab, n_embd, n_layer, n_head, n_ff;
        uint32_t n_head_kv, head_dim; /* llama / qwen2 */
        bool tied_output;             /* no output.weight */
        bool rope_freqs;              /* llama: a rope_freqs.weight tensor */

        /* deepseek2 */
        uint32_t q_lora_rank;         /* 0: attn_q (V2-Lite) */
        uint32_t kv_lora_rank, qk_nope, qk_rope, v_head;
        uint32_t n_dense_lead;        /* leading dense layers */
        uint32_t n_expert, n_expert_used, n_expert_shared, n_ff_exp;
        uint32_t n_groups, n_groups_used; /* expert groups; 0: none */
        bool sigmoid;                 /* V3 gating, with exp_probs_b */
        bool weights_norm;
        float weights_scale;
        enum tiny_kv_b kv_b;
        bool mla_keys;                /* key_length_mla etc. as the MLA converter writes */
        uint32_t nextn;               /* NextN layers appended to n_layer */
        bool nextn_tensors;           /* write them (else only the key) */

        /* YaRN (all archs; deepseek2 uses the log multiplier) */
        bool yarn;
        float yarn_factor, yarn_log_mul;
        uint32_t yarn_orig_ctx;

        /* A byte-level BPE tokenizer (the 256 bytes, DeepSeek's special
         * tokens, unused ids up to n_vocab, which must be >= 264) and this
         * chat template: a model the engine and daemon can serve. */
        const char *chat_template;

        /* Broken files for loader tests */
        const char *omit_tensor;      /* not written */
        const char *bad_shape_tensor; /* written with its last dimension one larger */
        const char *raw_tensor;       /* written as zero bytes of raw_type (e.g. IQ2_XXS, */
        uint32_t raw_type;            /* Q4_K: needs ne0 % 256 == 0) */
        const char *omit_key;         /* e.g. "deepseek2.attention.kv_lora_rank" */
        const char *string_key;       /* a numeric key written as the string "x" */
        const char *rope_scaling;     /* rope.scaling.type to write instead of "yarn" */
};

/* Defaults of each architecture: hidden 64, vocab 256, a few layers. */
void tiny_model_defaults(struct tiny_model_opts *o, enum tiny_arch arch);

/* The named variants every forward implementation must match the
 * reference on (the list ends with NULL): "deepseek2-v3" (q_lora, sigmoid
 * gating with exp_probs_b, groups, normalised and scaled weights),
 * "deepseek2-v3-yarn", "deepseek2-v2-lite" (no q_lora, softmax),
 * "deepseek2-v2-yarn-combined" (older combined attn_kv_b and keys),
 * "deepseek2-nogroups-nextn", "deepseek2-odd" (odd sizes), "llama",
 * "llama-mqa-rope-freqs", "qwen2", "qwen2-odd-tied", "qwen2-yarn". */
extern const char *const tiny_model_variants[];
/* Variants with real layer shapes (hundreds of MiB), for benchmarks. */
extern const char *const tiny_model_bench_variants[];
/* Defaults plus the named variant; -ENOENT for an unknown name. */
int tiny_model_variant(const char *name, struct tiny_model_opts *o);

/* Serialises the model into a malloc'd buffer. */
int tiny_model_write(const struct tiny_model_opts *o, uint8_t **ret_data, size_t *ret_size);
int tiny_model_save(const struct tiny_model_opts *o, const char *path, struct vkinfer_err *err);

/* A written, opened and loaded tiny model. */
struct tiny_model {
        uint8_t *data;
        size_t size;
        struct gguf_file *file;
        struct model *model;
};

/* Writes, opens and loads; on failure everything is freed and err says why
 * (the model loader's message for broken files). */
int tiny_model_load(const struct tiny_model_opts *o, struct tiny_model *ret, struct vkinfer_err *err);
void tiny_model_unload(struct tiny_model *t);

/* n seeded random token ids below n_vocab. */
void tiny_tokens(uint64_t seed, uint32_t n_vocab, int32_t *tokens, size_t n);

/* Loads o and runs the CPU reference over tokens in one call (prefill);
 * *ret_logits gets n rows of n_vocab floats (malloc'd). */
int tiny_model_ref_logits(const struct tiny_model_opts *o, int mla_form, const int32_t *tokens, size_t n,
                          float **ret_logits, struct vkinfer_err *err);
