/* Loading tiny models of every architecture and variant: hyperparameters,
 * DeepSeek's YaRN scales, tensor binding, and the refusals of broken files
 * with the key or tensor named. */
#include <math.h>
#include <string.h>

#include "gguf/quant.h"
#include "harness.h"
#include "tiny-models.h"

static bool contains(const char *s, const char *sub) {
        return strstr(s, sub) != NULL;
}

static void test_deepseek2_hparams(void) {
        struct tiny_model_opts o;
        struct tiny_model t;
        struct vkinfer_err err = {0};

        for (int old_keys = 0; old_keys < 2; old_keys++) {
                tiny_model_defaults(&o, TINY_DEEPSEEK2);
                o.mla_keys = !old_keys;
                int r = tiny_model_load(&o, &t, &err);
                CHECK_OK(r, err);
                if (r < 0)
                        continue;
                const struct model_hparams *hp = &t.model->hp;
                CHECK(hp->arch == MODEL_ARCH_DEEPSEEK2, "arch %d", hp->arch);
                CHECK(hp->n_vocab == 256 && hp->n_embd == 64 && hp->n_layer == 3 && hp->n_layer_all == 3,
                      "sizes %u %u %u %u", hp->n_vocab, hp->n_embd, hp->n_layer, hp->n_layer_all);
                CHECK(hp->q_lora_rank == 32 && hp->kv_lora_rank == 32, "lora %u %u", hp->q_lora_rank, hp->kv_lora_rank);
                CHECK(hp->qk_nope == 32 && hp->qk_rope == 16 && hp->v_head == 32 && hp->head_dim_k == 48,
                      "head dims %u %u %u %u (old keys %d)", hp->qk_nope, hp->qk_rope, hp->v_head, hp->head_dim_k,
                      old_keys);
                CHECK(hp->n_expert == 8 && hp->n_expert_used == 2 && hp->n_expert_shared == 1 && hp->n_ff_exp == 32,
                      "experts");
                CHECK(hp->gating == MOE_GATING_SOFTMAX, "gating %d", hp->gating);
                CHECK(hp->rope.type == ROPE_TYPE_NORM && hp->rope.n_dims == 16, "rope");
                CHECK(fabsf(hp->kq_scale - 1.0f / sqrtf(48.0f)) < 1e-7f, "kq_scale %g", (double) hp->kq_scale);
                CHECK(hp->rope.mscale == 1.0f && hp->rope.ext_factor == 0.0f, "no yarn");
                CHECK(!t.model->layers[0].is_moe && t.model->layers[1].is_moe && t.model->layers[2].is_moe, "moe layers");
                CHECK(t.model->layers[0].ffn_gate && !t.model->layers[1].ffn_gate, "dense ffn only in layer 0");
                CHECK(t.model->layers[1].wq_a && !t.model->layers[1].wq, "q_lora tensors");
                CHECK(t.model->layers[1].wk_b && t.model->layers[1].wv_b && !t.model->layers[1].wkv_b, "split kv_b");
                CHECK(t.model->layers[1].exp_probs_b == NULL, "no bias for softmax gating");
                CHECK(t.model->output != t.model->tok_embd, "untied output");
                tiny_model_unload(&t);
        }

        /* V2-Lite: no q_lora, combined kv_b, sigmoid gating with bias */
        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.q_lora_rank = 0;
        o.kv_b = TINY_KV_B_COMBINED;
        o.sigmoid = true;
        o.weights_norm = true;
        o.weights_scale = 2.5f;
        o.n_groups = 4;
        o.n_groups_used = 2;
        int r = tiny_model_load(&o, &t, &err);
        CHECK_OK(r, err);
        if (r >= 0) {
                const struct model_hparams *hp = &t.model->hp;
                CHECK(hp->q_lora_rank == 0 && t.model->layers[0].wq && !t.model->layers[0].wq_a, "attn_q");
                CHECK(t.model->layers[2].wkv_b && !t.model->layers[2].wk_b, "combined kv_b");
                CHECK(hp->gating == MOE_GATING_SIGMOID && hp->expert_weights_norm && hp->expert_weights_scale == 2.5f,
                      "routing");
                CHECK(hp->n_expert_groups == 4 && hp->n_expert_groups_used == 2, "groups");
                CHECK(t.model->layers[1].exp_probs_b && !t.model->layers[0].exp_probs_b, "exp_probs_b");
                tiny_model_unload(&t);
        }

        /* both kv_b forms in one file */
        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.kv_b = TINY_KV_B_BOTH;
        r = tiny_model_load(&o, &t, &err);
        CHECK_OK(r, err);
        if (r >= 0) {
                CHECK(t.model->layers[1].wkv_b && t.model->layers[1].wk_b, "both kv_b");
                tiny_model_unload(&t);
        }
}

/* ggml_rope_yarn_corr_dim, written out independently. */
static double corr_dim(double n_dims, double n_ctx_orig, double n_rot, double base) {
        return n_dims * log(n_ctx_orig / (n_rot * 2 * M_PI)) / (2 * log(base));
}

static void test_yarn(void) {
        /* mscale_all_dim 1.0 (V3, R1) and 0.707 (V2, V2-Lite) */
        const float log_muls[] = {0.1f, 0.0707f};
        for (size_t i = 0; i < 2; i++) {
                struct tiny_model_opts o;
                struct tiny_model t;
                struct vkinfer_err err = {0};
                tiny_model_defaults(&o, TINY_DEEPSEEK2);
                o.yarn = true;
                o.yarn_factor = 40.0f;
                o.yarn_orig_ctx = 4096;
                o.yarn_log_mul = log_muls[i];
                int r = tiny_model_load(&o, &t, &err);
                CHECK_OK(r, err);
                if (r < 0)
                        continue;
                const struct model_hparams *hp = &t.model->hp;
                /* HF DeepSeek: softmax_scale = qk_head_dim^-0.5 * mscale^2 with
                 * mscale = 0.1 * mscale_all_dim * ln(factor) + 1, and the rope
                 * cos/sin unscaled */
                double mscale = 1.0 + (log_muls[i] / 0.1) * 0.1 * log(40.0);
                double want = mscale * mscale / sqrt(48.0);
                CHECK(fabs(hp->kq_scale - want) < 1e-6 * want, "kq_scale %.9g, want %.9g", (double) hp->kq_scale, want);
                CHECK(fabsf(hp->rope.mscale - 1.0f) < 1e-6f, "rope mscale %.9g", (double) hp->rope.mscale);
                CHECK(fabsf(hp->rope.attn_factor * (1.0f + 0.1f * logf(40.0f)) - 1.0f) < 1e-6f, "attn_factor %g",
                      (double) hp->rope.attn_factor);
                CHECK(fabsf(hp->rope.freq_scale - 1.0f / 40.0f) < 1e-9f && hp->rope.ext_factor == 1.0f, "freq_scale");
                double lo = fmax(0, floor(corr_dim(16, 4096, 32, 10000))), hi = fmin(15, ceil(corr_dim(16, 4096, 1, 10000)));
                CHECK(hp->rope.corr_dims[0] == (float) lo && hp->rope.corr_dims[1] == (float) hi, "corr dims %g %g, want %g %g",
                      (double) hp->rope.corr_dims[0], (double) hp->rope.corr_dims[1], lo, hi);

                /* a pair far below corr_dims[0] extrapolates (no scaling), one
                 * far above interpolates (angle / factor) */
                double theta, ms;
                model_rope_theta(&hp->rope, 100, 0, 1.0f, &theta, &ms);
                CHECK(fabs(theta - 100.0) < 1e-9, "pair 0 theta %g", theta);
                CHECK(fabs(ms - 1.0) < 1e-6, "pair 0 mscale %g", ms);
                model_rope_theta(&hp->rope, 100, 7, 1.0f, &theta, &ms);
                double want_theta = 100.0 * pow(10000.0, -14.0 / 16.0) / 40.0;
                CHECK(fabs(theta - want_theta) < 1e-6 * want_theta, "pair 7 theta %g want %g", theta, want_theta);
                tiny_model_unload(&t);
        }
}

static void test_llama_qwen2(void) {
        const enum tiny_arch arches[] = {TINY_LLAMA, TINY_QWEN2};
        for (size_t i = 0; i < 2; i++) {
                struct tiny_model_opts o;
                struct tiny_model t;
                struct vkinfer_err err = {0};
                tiny_model_defaults(&o, arches[i]);
                o.tied_output = i == 1;
                o.rope_freqs = i == 0;
                int r = tiny_model_load(&o, &t, &err);
                CHECK_OK(r, err);
                if (r < 0)
                        continue;
                const struct model_hparams *hp = &t.model->hp;
                CHECK(hp->n_head == 4 && hp->n_head_kv == 2 && hp->head_dim_k == 16 && hp->n_layer == 2, "sizes");
                CHECK(hp->rope.type == (i ? ROPE_TYPE_NEOX : ROPE_TYPE_NORM), "rope type");
                CHECK(fabsf(hp->kq_scale - 0.25f) < 1e-7f, "kq_scale %g", (double) hp->kq_scale);
                CHECK((t.model->layers[0].bq != NULL) == (i == 1), "biases only in qwen2");
                CHECK((t.model->output == t.model->tok_embd) == (i == 1), "tied output");
                CHECK((t.model->rope_freqs != NULL) == (i == 0), "rope_freqs");
                tiny_model_unload(&t);
        }
}

static void test_nextn(void) {
        for (int with_tensors = 0; with_tensors < 2; with_tensors++) {
                struct tiny_model_opts o;
                struct tiny_model t;
                struct vkinfer_err err = {0};
                tiny_model_defaults(&o, TINY_DEEPSEEK2);
                o.nextn = 1;
                o.nextn_tensors = with_tensors;
                int r = tiny_model_load(&o, &t, &err);
                CHECK_OK(r, err);
                if (r < 0)
                        continue;
                const struct model *m = t.model;
                CHECK(m->hp.n_layer == 3 && m->hp.n_layer_all == 4 && m->hp.nextn_predict_layers == 1, "layers");
                CHECK(m->layers[3].is_nextn && !m->layers[2].is_nextn, "is_nextn");
                CHECK((m->layers[3].nextn_eh_proj != NULL) == with_tensors, "eh_proj");
                CHECK((m->layers[3].ffn_gate_exps != NULL) == with_tensors, "MTP layer experts");
                tiny_model_unload(&t);
        }
}

static void test_quant_types(void) {
        const uint32_t types[] = {GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0};
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                struct tiny_model_opts o;
                struct tiny_model t;
                struct vkinfer_err err = {0};
                tiny_model_defaults(&o, TINY_DEEPSEEK2);
                o.type = types[i];
                int r = tiny_model_load(&o, &t, &err);
                CHECK_OK(r, err);
                if (r < 0)
                        continue;
                CHECK(t.model->layers[1].wq_b->type == types[i], "%s: attn_q_b is %s", ggml_type_name(types[i]),
                      ggml_type_name(t.model->layers[1].wq_b->type));
                CHECK(t.model->layers[1].ffn_down_exps->type == types[i], "experts quantized");
                CHECK(t.model->layers[1].attn_norm->type == GGML_TYPE_F32, "norms stay F32");
                tiny_model_unload(&t);
        }
}

/* Loads o, expects failure with every string of want in the message. */
static void expect_error(const struct tiny_model_opts *o, const char *what, const char *want1, const char *want2) {
        struct tiny_model t;
        struct vkinfer_err err = {0};
        int r = tiny_model_load(o, &t, &err);
        CHECK(r < 0, "%s: loaded", what);
        if (r >= 0) {
                tiny_model_unload(&t);
                return;
        }
        CHECK(contains(err.msg, want1), "%s: message '%s' lacks '%s'", what, err.msg, want1);
        if (want2)
                CHECK(contains(err.msg, want2), "%s: message '%s' lacks '%s'", what, err.msg, want2);
}

static void test_errors(void) {
        struct tiny_model_opts o;

        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.omit_tensor = "blk.1.attn_kv_a_mqa.weight";
        expect_error(&o, "missing tensor", "missing tensor blk.1.attn_kv_a_mqa.weight", NULL);

        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.omit_tensor = "blk.2.attn_v_b.weight";
        expect_error(&o, "missing v_b", "blk.2.attn_v_b.weight", NULL);

        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.omit_tensor = "token_embd.weight";
        expect_error(&o, "missing embeddings", "token_embd.weight", NULL);

        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.bad_shape_tensor = "blk.0.attn_q_b.weight";
        expect_error(&o, "wrong shape", "blk.0.attn_q_b.weight has shape [32, 193]", "expected [32, 192]");

        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.bad_shape_tensor = "blk.1.ffn_up_exps.weight";
        expect_error(&o, "wrong expert count", "blk.1.ffn_up_exps.weight has shape [64, 32, 9]", "expected [64, 32, 8]");

        tiny_model_defaults(&o, TINY_LLAMA);
        o.n_ff = 256; /* rows of ffn_down fit MXFP4's 32-value blocks */
        o.raw_tensor = "blk.1.ffn_down.weight";
        o.raw_type = GGML_TYPE_MXFP4;
        expect_error(&o, "unsupported type", "blk.1.ffn_down.weight", "MXFP4");

        /* K-quants load once the CPU can dequantize them, and are refused
         * by name until then */
        const uint32_t kquants[] = {GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
        for (size_t i = 0; i < ELEMENTSOF(kquants); i++) {
                tiny_model_defaults(&o, TINY_LLAMA);
                o.n_ff = 256;
                o.raw_tensor = "blk.0.ffn_down.weight";
                o.raw_type = kquants[i];
                if (ggml_can_dequantize(kquants[i])) {
                        struct tiny_model t;
                        struct vkinfer_err err = {0};
                        int r = tiny_model_load(&o, &t, &err);
                        CHECK_OK(r, err);
                        if (r >= 0) {
                                CHECK(t.model->layers[0].ffn_down->type == kquants[i], "K-quant tensor");
                                tiny_model_unload(&t);
                        }
                } else {
                        expect_error(&o, "K-quant not yet", "blk.0.ffn_down.weight", ggml_type_name(kquants[i]));
                }
        }

        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.omit_key = "deepseek2.attention.kv_lora_rank";
        expect_error(&o, "missing key", "missing key deepseek2.attention.kv_lora_rank", NULL);

        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.string_key = "deepseek2.expert_count";
        expect_error(&o, "key of the wrong type", "deepseek2.expert_count", "integer");

        tiny_model_defaults(&o, TINY_LLAMA);
        o.yarn = true;
        o.rope_scaling = "longrope";
        expect_error(&o, "unsupported rope scaling", "longrope", "llama.rope.scaling.type");

        tiny_model_defaults(&o, TINY_LLAMA);
        o.yarn = true;
        o.rope_scaling = "linear";
        {
                struct tiny_model t;
                struct vkinfer_err err = {0};
                int r = tiny_model_load(&o, &t, &err);
                CHECK_OK(r, err);
                if (r >= 0) {
                        CHECK(t.model->hp.rope.scaling == ROPE_SCALING_LINEAR && t.model->hp.rope.freq_scale == 0.25f &&
                              t.model->hp.rope.ext_factor == 0.0f && t.model->hp.rope.mscale == 1.0f, "linear scaling");
                        tiny_model_unload(&t);
                }
        }

        /* a factor without a type is linear scaling, as llama.cpp reads it */
        tiny_model_defaults(&o, TINY_QWEN2);
        o.yarn = true;
        o.omit_key = "qwen2.rope.scaling.type";
        {
                struct tiny_model t;
                struct vkinfer_err err = {0};
                int r = tiny_model_load(&o, &t, &err);
                CHECK_OK(r, err);
                if (r >= 0) {
                        CHECK(t.model->hp.rope.scaling == ROPE_SCALING_LINEAR && t.model->hp.rope.freq_scale == 0.25f,
                              "factor without type");
                        tiny_model_unload(&t);
                }
        }

        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.omit_key = "general.architecture";
        expect_error(&o, "no architecture", "general.architecture", NULL);

        tiny_model_defaults(&o, TINY_QWEN2);
        o.omit_tensor = "blk.0.attn_k.bias";
        expect_error(&o, "qwen2 bias", "missing tensor blk.0.attn_k.bias", NULL);

        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.n_groups = 3; /* 8 experts do not split into 3 groups */
        o.n_groups_used = 1;
        expect_error(&o, "bad groups", "groups", NULL);

        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        o.n_groups = 4;
        o.n_groups_used = 1; /* top 2 from one group of 2: fine */
        {
                struct tiny_model t;
                struct vkinfer_err err = {0};
                int r = tiny_model_load(&o, &t, &err);
                CHECK_OK(r, err);
                if (r >= 0)
                        tiny_model_unload(&t);
        }
        o.n_expert_used = 3; /* but not 3 experts from one group of 2 */
        expect_error(&o, "top-k beyond groups", "cannot come from", NULL);
}

/* Every tensor of a well-formed file is bound exactly once. */
static void test_bound_tensors(void) {
        for (size_t v = 0; tiny_model_variants[v]; v++) {
                struct tiny_model_opts o;
                struct tiny_model t;
                struct vkinfer_err err = {0};
                tiny_model_variant(tiny_model_variants[v], &o);
                o.kv_b = TINY_KV_B_BOTH;
                int r = tiny_model_load(&o, &t, &err);
                CHECK_OK(r, err);
                if (r < 0)
                        continue;
                const struct model *m = t.model;
                uint64_t bytes = 0;
                CHECK(m->n_tensors == t.file->n_tensors, "%s: %zu of %llu tensors bound", tiny_model_variants[v],
                      m->n_tensors, (unsigned long long) t.file->n_tensors);
                for (size_t i = 0; i < m->n_tensors; i++) {
                        bytes += m->tensors[i]->n_bytes;
                        for (size_t j = 0; j < i; j++)
                                CHECK(m->tensors[i] != m->tensors[j], "%s bound twice", m->tensors[i]->name);
                }
                CHECK(bytes == m->weight_bytes, "weight bytes");
                tiny_model_unload(&t);
        }
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Tensors a file may lack (attn_kv_b: when the split pair is there). */
static bool optional_tensor(const char *name) {
        return strcmp(name, "output.weight") == 0 || strcmp(name, "rope_freqs.weight") == 0 ||
               ends_with(name, ".exp_probs_b.bias") || ends_with(name, ".attn_kv_b.weight");
}

/* Every tensor of a file, in turn, made one row too long and left out: the
 * first is always refused naming it; the second too unless the tensor is
 * optional (MTP layers: all of theirs). */
static void test_each_tensor(void) {
        static const char *const variants[] = {"deepseek2-v3", "deepseek2-nogroups-nextn", "llama-mqa-rope-freqs", "qwen2"};
        for (size_t v = 0; v < ELEMENTSOF(variants); v++) {
                struct tiny_model_opts o;
                struct tiny_model good;
                struct vkinfer_err err = {0};
                tiny_model_variant(variants[v], &o);
                if (v == 0)
                        o.kv_b = TINY_KV_B_BOTH;
                int r = tiny_model_load(&o, &good, &err);
                CHECK_OK(r, err);
                if (r < 0)
                        continue;
                const uint32_t n_layer = good.model->hp.n_layer;
                for (uint64_t i = 0; i < good.file->n_tensors; i++) {
                        const char *name = good.file->tensors[i].name;
                        struct tiny_model t;
                        char what[160];
                        unsigned il = 0;
                        /* an MTP layer needs nothing, but a half of the k_b/v_b
                         * pair is a broken file there too */
                        bool mtp = sscanf(name, "blk.%u.", &il) == 1 && il >= n_layer &&
                                   !ends_with(name, ".attn_k_b.weight") && !ends_with(name, ".attn_v_b.weight");

                        struct tiny_model_opts bad = o;
                        bad.bad_shape_tensor = name;
                        snprintf(what, sizeof(what), "%s: %s one row longer", variants[v], name);
                        expect_error(&bad, what, name, NULL);

                        bad = o;
                        bad.omit_tensor = name;
                        if (mtp || optional_tensor(name)) {
                                r = tiny_model_load(&bad, &t, &err);
                                CHECK(r >= 0, "%s: without optional %s: %s", variants[v], name, err.msg);
                                if (r >= 0)
                                        tiny_model_unload(&t);
                        } else {
                                snprintf(what, sizeof(what), "%s: without %s", variants[v], name);
                                expect_error(&bad, what, name, NULL);
                        }
                }
                tiny_model_unload(&good);
        }
}

static void test_describe(void) {
        struct tiny_model_opts o;
        struct tiny_model t;
        struct vkinfer_err err = {0};
        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        int r = tiny_model_load(&o, &t, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return;
        char buf[2048];
        size_t n = model_describe(t.model, buf, sizeof(buf));
        CHECK(n > 0 && n < sizeof(buf), "length %zu", n);
        CHECK(contains(buf, "deepseek2") && contains(buf, "kv_lora 32"), "%s", buf);
        char small[16];
        size_t n2 = model_describe(t.model, small, sizeof(small));
        CHECK(n2 == n && strlen(small) == sizeof(small) - 1, "truncation");
        tiny_model_unload(&t);
}

int main(void) {
        test_deepseek2_hparams();
        test_yarn();
        test_llama_qwen2();
        test_nextn();
        test_quant_types();
        test_errors();
        test_bound_tensors();
        test_each_tensor();
        test_describe();
        return test_exit("test-model-load");
}
