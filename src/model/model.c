/* model_load and what every architecture shares: the table of
 * architectures, key reading, tensor binding with shape and type checks,
 * rope parameters. */
#include "model/arch.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gguf/quant.h"

static const struct model_arch *const arches[] = {
        &model_arch_llama,
        &model_arch_qwen2,
        &model_arch_deepseek2,
};

const char *model_arch_name(enum model_arch_id id) {
        for (size_t i = 0; i < ELEMENTSOF(arches); i++)
                if (arches[i]->id == id)
                        return arches[i]->name;
        return "unknown";
}

bool model_type_supported(uint32_t type) {
        /* The CPU reference must be able to read every weight; the kernels
         * read the same set (ops.c's type_suffix, checked at upload). */
        return ggml_can_dequantize(type);
}

/* ---- Keys ---- */

static void key_name(char *buf, size_t size, const char *arch, const char *suffix) {
        snprintf(buf, size, "%s.%s", arch, suffix);
}

int model_key_u32(const struct gguf_file *f, const char *arch, const char *suffix, bool required,
                  uint32_t def, uint32_t *ret, struct vkinfer_err *err) {
        char key[128];
        key_name(key, sizeof(key), arch, suffix);
        int r = gguf_get_u32(f, key, ret, err);
        if (r == -ENOENT) {
                if (required)
                        return err_set(err, -EINVAL, "missing key %s", key);
                *ret = def;
                return 0;
        }
        return r;
}

int model_key_f32(const struct gguf_file *f, const char *arch, const char *suffix, bool required,
                  float def, float *ret, struct vkinfer_err *err) {
        char key[128];
        key_name(key, sizeof(key), arch, suffix);
        int r = gguf_get_f32(f, key, ret, err);
        if (r == -ENOENT) {
                if (required)
                        return err_set(err, -EINVAL, "missing key %s", key);
                *ret = def;
                return 0;
        }
        return r;
}

int model_key_bool(const struct gguf_file *f, const char *arch, const char *suffix, bool required,
                   bool def, bool *ret, struct vkinfer_err *err) {
        char key[128];
        key_name(key, sizeof(key), arch, suffix);
        int r = gguf_get_bool(f, key, ret, err);
        if (r == -ENOENT) {
                if (required)
                        return err_set(err, -EINVAL, "missing key %s", key);
                *ret = def;
                return 0;
        }
        return r;
}

/* ---- Rope ---- */

/* ggml_rope_yarn_corr_dim: the pair index whose wavelength fits n_rot
 * rotations into the original context. */
static double yarn_corr_dim(uint32_t n_dims, uint32_t n_ctx_orig, double n_rot, double base) {
        return n_dims * log(n_ctx_orig / (n_rot * 2 * M_PI)) / (2 * log(base));
}

int model_load_rope(struct model_hparams *hp, const struct gguf_file *f, const char *arch,
                    struct vkinfer_err *err) {
        struct model_rope *rope = &hp->rope;
        char key[128];
        int r;

        r = model_key_f32(f, arch, "rope.freq_base", false, 10000.0f, &rope->freq_base, err);
        if (r < 0)
                return r;
        if (!(rope->freq_base > 1.0f))
                return err_set(err, -EINVAL, "%s.rope.freq_base is %g, must be > 1", arch,
                               (double) rope->freq_base);

        /* As llama.cpp reads them: the type defaults to linear, the factor
         * to none (the older key rope.scale_linear also counts). */
        bool have_type = false;
        rope->scaling = ROPE_SCALING_LINEAR;
        struct gguf_str s;
        key_name(key, sizeof(key), arch, "rope.scaling.type");
        r = gguf_get_str(f, key, &s, err);
        if (r >= 0) {
                have_type = true;
                if (gguf_str_eq(s, "none"))
                        rope->scaling = ROPE_SCALING_NONE;
                else if (gguf_str_eq(s, "linear"))
                        rope->scaling = ROPE_SCALING_LINEAR;
                else if (gguf_str_eq(s, "yarn"))
                        rope->scaling = ROPE_SCALING_YARN;
                else
                        return err_set(err, -EOPNOTSUPP, "%s: rope scaling '%.*s' is not supported (none, linear, yarn)",
                                       key, (int) (s.len > 64 ? 64 : s.len), s.ptr);
        } else if (r != -ENOENT)
                return r;

        float factor;
        r = model_key_f32(f, arch, "rope.scaling.factor", false, 0.0f, &factor, err);
        if (r >= 0 && factor == 0.0f)
                r = model_key_f32(f, arch, "rope.scale_linear", false, 0.0f, &factor, err);
        if (r < 0)
                return r;
        if (factor < 0.0f || !isfinite(factor))
                return err_set(err, -EINVAL, "%s.rope.scaling.factor is %g, must be > 0", arch, (double) factor);
        rope->scaling_factor = factor == 0.0f ? 1.0f : factor;
        if (!have_type && rope->scaling_factor == 1.0f)
                rope->scaling = ROPE_SCALING_NONE; /* linear by 1 is no scaling */
        r = model_key_u32(f, arch, "rope.scaling.original_context_length", false, hp->n_ctx_train,
                          &rope->orig_ctx, err);
        if (r < 0)
                return r;
        r = model_key_f32(f, arch, "rope.scaling.yarn_log_multiplier", false, 0.0f, &rope->yarn_log_mul, err);
        if (r < 0)
                return r;
        r = model_key_f32(f, arch, "rope.scaling.yarn_beta_fast", false, 32.0f, &rope->beta_fast, err);
        if (r < 0)
                return r;
        r = model_key_f32(f, arch, "rope.scaling.yarn_beta_slow", false, 1.0f, &rope->beta_slow, err);
        if (r < 0)
                return r;
        r = model_key_f32(f, arch, "rope.scaling.attn_factor", false, 1.0f, &rope->attn_factor_file, err);
        if (r < 0)
                return r;

        /* llama.cpp: "never scale if scaling type is none"; ext_factor is 1
         * exactly for YaRN. */
        rope->freq_scale = rope->scaling == ROPE_SCALING_NONE ? 1.0f : 1.0f / rope->scaling_factor;
        if (rope->scaling == ROPE_SCALING_NONE)
                rope->scaling_factor = 1.0f;
        rope->ext_factor = rope->scaling == ROPE_SCALING_YARN ? 1.0f : 0.0f;
        if (rope->scaling == ROPE_SCALING_YARN && rope->orig_ctx == 0)
                return err_set(err, -EINVAL, "%s: YaRN needs rope.scaling.original_context_length or context_length", arch);

        /* ggml_rope_yarn_corr_dims */
        rope->corr_dims[0] = rope->corr_dims[1] = 0.0f;
        if (rope->ext_factor != 0.0f && rope->n_dims > 0) {
                double start = floor(yarn_corr_dim(rope->n_dims, rope->orig_ctx, rope->beta_fast, rope->freq_base));
                double end = ceil(yarn_corr_dim(rope->n_dims, rope->orig_ctx, rope->beta_slow, rope->freq_base));
                rope->corr_dims[0] = (float) fmax(0.0, start);
                rope->corr_dims[1] = (float) fmin((double) rope->n_dims - 1, end);
        }
        /* Until the architecture says otherwise: llama.cpp's generic rule
         * (yarn_attn_factor = get_mscale(factor) / (1 + 0.1 ln factor) = 1,
         * times the file's attn_factor). */
        rope->attn_factor = rope->attn_factor_file;
        rope->mscale = rope->attn_factor;
        if (rope->ext_factor != 0.0f)
                rope->mscale *= 1.0f + 0.1f * logf(1.0f / rope->freq_scale);
        return 0;
}

/* ggml's rope_yarn_ramp: 1 below corr_dims[0] (extrapolate), 0 above
 * corr_dims[1] (interpolate). i0 is the even index of the pair's first value. */
static double yarn_ramp(double low, double high, uint32_t i0) {
        double y = ((double) (i0 / 2) - low) / fmax(0.001, high - low);
        return 1.0 - fmin(1.0, fmax(0.0, y));
}

void model_rope_theta(const struct model_rope *r, uint32_t pos, uint32_t i, float freq_factor,
                      double *ret_theta, double *ret_mscale) {
        uint32_t i0 = 2 * i;
        double theta_extrap = (double) pos * pow((double) r->freq_base, -(double) i0 / r->n_dims) / freq_factor;
        double theta_interp = r->freq_scale * theta_extrap;
        double theta = theta_interp;
        double mscale = r->attn_factor;
        if (r->ext_factor != 0.0f) {
                double mix = yarn_ramp(r->corr_dims[0], r->corr_dims[1], i0) * r->ext_factor;
                theta = theta_interp * (1 - mix) + theta_extrap * mix;
                mscale *= 1.0 + 0.1 * log(1.0 / r->freq_scale);
        }
        *ret_theta = theta;
        *ret_mscale = mscale;
}

/* ---- Tensors ---- */

static int format_shape(char *buf, size_t size, const uint64_t *ne, uint32_t n_dims) {
        int n = snprintf(buf, size, "[");
        for (uint32_t d = 0; d < n_dims && n > 0 && (size_t) n < size; d++)
                n += snprintf(buf + n, size - n, "%s%llu", d ? ", " : "", (unsigned long long) ne[d]);
        if (n > 0 && (size_t) n < size)
                n += snprintf(buf + n, size - n, "]");
        return n;
}

static uint32_t used_dims(const uint64_t *ne) {
        uint32_t n = GGUF_MAX_DIMS;
        while (n > 1 && ne[n - 1] == 1)
                n--;
        return n;
}

int model_bind(struct model *m, const struct gguf_file *f, const char *name, unsigned flags,
               uint64_t ne0, uint64_t ne1, uint64_t ne2, const struct gguf_tensor **ret,
               struct vkinfer_err *err) {
        const struct gguf_tensor *t = gguf_find_tensor(f, name);
        if (!t) {
                if (flags & BIND_OPTIONAL) {
                        *ret = NULL;
                        return 0;
                }
                return err_set(err, -ENOENT, "missing tensor %s", name);
        }

        uint64_t want[GGUF_MAX_DIMS] = {ne0, ne1, ne2, 1};
        bool same = true;
        for (int d = 0; d < GGUF_MAX_DIMS; d++)
                same = same && t->ne[d] == want[d];
        if (!same) {
                char a[96], b[96];
                uint32_t nd = used_dims(want);
                if (used_dims(t->ne) > nd)
                        nd = used_dims(t->ne);
                format_shape(a, sizeof(a), want, nd);
                format_shape(b, sizeof(b), t->ne, nd);
                return err_set(err, -EINVAL, "tensor %s has shape %s, expected %s", name, b, a);
        }

        if (!model_type_supported(t->type))
                return err_set(err, -EOPNOTSUPP,
                               "tensor %s has type %s, which is not supported (the types llama.cpp's quantizer writes: "
                               "F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K..Q6_K IQ1_S IQ1_M IQ2_XXS IQ2_XS IQ2_S "
                               "IQ3_XXS IQ3_S IQ4_NL IQ4_XS TQ1_0 TQ2_0)",
                               name, ggml_type_name(t->type));

        /* Bound tensors are few (a few thousand for DeepSeek V3): a
         * doubling array. */
        const size_t n = m->n_tensors;
        if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
                size_t cap = n ? 2 * n : 16;
                const struct gguf_tensor **p = realloc(m->tensors, cap * sizeof(*p));
                if (!p)
                        return err_set(err, -ENOMEM, "out of memory");
                m->tensors = p;
        }
        m->tensors[m->n_tensors++] = t;
        m->weight_bytes += t->n_bytes;
        *ret = t;
        return 0;
}

int model_bind_blk(struct model *m, const struct gguf_file *f, uint32_t il, const char *suffix,
                   unsigned flags, uint64_t ne0, uint64_t ne1, uint64_t ne2,
                   const struct gguf_tensor **ret, struct vkinfer_err *err) {
        char name[128];
        snprintf(name, sizeof(name), "blk.%u.%s", il, suffix);
        return model_bind(m, f, name, flags, ne0, ne1, ne2, ret, err);
}

int model_vocab_from_embd(struct model *m, const struct gguf_file *f, const char *arch,
                          struct vkinfer_err *err) {
        const struct gguf_tensor *t = gguf_find_tensor(f, "token_embd.weight");
        if (!t)
                return err_set(err, -ENOENT, "missing tensor token_embd.weight");
        if (t->ne[1] == 0 || t->ne[1] > UINT32_MAX)
                return err_set(err, -EINVAL, "tensor token_embd.weight has %llu rows",
                               (unsigned long long) t->ne[1]);
        uint32_t n_vocab;
        int r = model_key_u32(f, arch, "vocab_size", false, (uint32_t) t->ne[1], &n_vocab, err);
        if (r < 0)
                return r;
        if (n_vocab != t->ne[1])
                return err_set(err, -EINVAL, "%s.vocab_size is %u but token_embd.weight has %llu rows",
                               arch, n_vocab, (unsigned long long) t->ne[1]);
        m->hp.n_vocab = n_vocab;
        return 0;
}

int model_bind_io(struct model *m, const struct gguf_file *f, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        int r;

        r = model_bind(m, f, "token_embd.weight", BIND_REQUIRED, hp->n_embd, hp->n_vocab, 1, &m->tok_embd, err);
        if (r < 0)
                return r;
        r = model_bind(m, f, "output_norm.weight", BIND_REQUIRED, hp->n_embd, 1, 1, &m->output_norm, err);
        if (r < 0)
                return r;
        /* Tied embeddings (small Qwen2 models): the head is token_embd. */
        r = model_bind(m, f, "output.weight", BIND_OPTIONAL, hp->n_embd, hp->n_vocab, 1, &m->output, err);
        if (r < 0)
                return r;
        if (!m->output)
                m->output = m->tok_embd;
        return 0;
}

/* ---- Loading ---- */

int model_load(const struct gguf_file *f, struct model **ret, struct vkinfer_err *err) {
        struct gguf_str name;
        int r = gguf_get_str(f, "general.architecture", &name, err);
        if (r == -ENOENT)
                return err_set(err, -EINVAL, "missing key general.architecture");
        if (r < 0)
                return r;

        const struct model_arch *arch = NULL;
        for (size_t i = 0; i < ELEMENTSOF(arches); i++)
                if (gguf_str_eq(name, arches[i]->name))
                        arch = arches[i];
        if (!arch)
                return err_set(err, -EOPNOTSUPP, "architecture '%.*s' is not supported (deepseek2, llama, qwen2)",
                               (int) (name.len > 64 ? 64 : name.len), name.ptr);

        struct model *m = calloc(1, sizeof(*m));
        if (!m)
                return err_set(err, -ENOMEM, "out of memory");
        m->file = f;
        m->arch = arch;
        m->hp.arch = arch->id;

        r = arch->load_hparams(m, f, err);
        if (r < 0)
                goto fail;
        m->layers = calloc(m->hp.n_layer_all, sizeof(*m->layers));
        if (!m->layers) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        r = arch->bind_tensors(m, f, err);
        if (r < 0)
                goto fail;

        *ret = m;
        return 0;
fail:
        model_free(m);
        return r;
}

struct model *model_free(struct model *m) {
        if (!m)
                return NULL;
        free(m->layers);
        free(m->tensors);
        free(m);
        return NULL;
}

/* ---- Description ---- */

size_t model_describe(const struct model *m, char *buf, size_t size) {
        const struct model_hparams *hp = &m->hp;
        static const char *const scaling[] = {"none", "linear", "yarn"};
        size_t n = 0;
#define OUT(...)                                                                         \
        do {                                                                             \
                int k_ = snprintf(n < size ? buf + n : NULL, n < size ? size - n : 0, __VA_ARGS__); \
                if (k_ > 0)                                                              \
                        n += (size_t) k_;                                                \
        } while (0)

        OUT("arch            %s\n", model_arch_name(hp->arch));
        OUT("vocab           %u\n", hp->n_vocab);
        OUT("embd            %u\n", hp->n_embd);
        OUT("layers          %u", hp->n_layer);
        if (hp->nextn_predict_layers)
                OUT(" (+%u NextN/MTP)", hp->nextn_predict_layers);
        OUT("\nheads           %u (kv %u), head dim k %u v %u\n", hp->n_head, hp->n_head_kv,
            hp->head_dim_k, hp->head_dim_v);
        OUT("ffn             %u\n", hp->n_ff);
        OUT("rms eps         %g\n", (double) hp->rms_eps);
        OUT("rope            %s, %u dims, base %g, scaling %s x%g, mscale %g\n",
            hp->rope.type == ROPE_TYPE_NEOX ? "neox" : "norm", hp->rope.n_dims, (double) hp->rope.freq_base,
            scaling[hp->rope.scaling], (double) hp->rope.scaling_factor, (double) hp->rope.mscale);
        OUT("kq scale        %g\n", (double) hp->kq_scale);
        if (hp->arch == MODEL_ARCH_DEEPSEEK2) {
                OUT("mla             q_lora %u, kv_lora %u, qk_nope %u, qk_rope %u, v %u\n", hp->q_lora_rank,
                    hp->kv_lora_rank, hp->qk_nope, hp->qk_rope, hp->v_head);
                OUT("moe             %u dense then %u experts (+%u shared), top %u, ffn %u\n",
                    hp->n_layer_dense_lead, hp->n_expert, hp->n_expert_shared, hp->n_expert_used, hp->n_ff_exp);
                OUT("routing         %s, norm %s, scale %g, groups %u (use %u)\n",
                    hp->gating == MOE_GATING_SIGMOID ? "sigmoid" : "softmax",
                    hp->expert_weights_norm ? "yes" : "no", (double) hp->expert_weights_scale,
                    hp->n_expert_groups, hp->n_expert_groups_used);
        }
        OUT("weights         %zu tensors, %.1f MiB%s\n", m->n_tensors, (double) m->weight_bytes / (1024.0 * 1024.0),
            m->output == m->tok_embd ? " (tied output)" : "");
#undef OUT
        return n;
}
