/* The bundled demo model and its references, checked as files (no forward
 * pass here; the model tests compare logits):
 *   - models/demo/demo.gguf opens, carries the deepseek2 keys with values
 *     that agree with each other, and every tensor llama.cpp's converter
 *     writes for DeepSeek-V3 with the shape the metadata implies and the
 *     stored type the README states, and no other (no combined attn_kv_b:
 *     llama.cpp refuses a file that has it beside the split pair);
 *   - the F32 attn_k_b holds Q8_0 values along the rows of the combined
 *     kv_b it was split from, as the Q8_0 attn_v_b does: both are exactly
 *     one Q8_0 kv_b, so the absorbed and expanded forms use the same weights;
 *   - the vocabulary has its special tokens where the README says;
 *   - tests/data/demo/logits.{json,bin} agree with each other and with the
 *     vocabulary, and perplexity.json names a held-out file that exists.
 * Usage: test-demo-files MODEL.gguf DATA_DIR */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "gguf/quant.h"
#include "harness.h"

#define ARCH "deepseek2"

struct hparams {
        uint32_t n_embd, n_ff, n_layer, n_head, n_vocab, q_lora, kv_lora, rope, k_mla, v_mla;
        uint32_t n_expert, n_expert_used, n_shared, n_ff_exp, n_dense, n_group, n_group_used;
};

static uint32_t get_u32(const struct gguf_file *f, const char *key) {
        struct vkinfer_err err = {{0}};
        uint32_t v = 0;
        int r = gguf_get_u32(f, key, &v, &err);
        CHECK(r == 0, "%s: %d %s", key, r, err.msg);
        return v;
}

static float get_f32(const struct gguf_file *f, const char *key) {
        struct vkinfer_err err = {{0}};
        float v = 0;
        int r = gguf_get_f32(f, key, &v, &err);
        CHECK(r == 0, "%s: %d %s", key, r, err.msg);
        return v;
}

static void check_str(const struct gguf_file *f, const char *key, const char *want) {
        struct vkinfer_err err = {{0}};
        struct gguf_str s = {0};
        int r = gguf_get_str(f, key, &s, &err);
        CHECK(r == 0 && gguf_str_eq(s, want), "%s: want \"%s\"", key, want);
}

/* The tensor, checked for type and shape (ne[0] first; 0 ends the list). */
static const struct gguf_tensor *tensor(const struct gguf_file *f, const char *name, uint32_t type,
                                        uint64_t ne0, uint64_t ne1, uint64_t ne2) {
        const struct gguf_tensor *t = gguf_find_tensor(f, name);
        CHECK(t != NULL, "missing tensor %s", name);
        if (!t)
                return NULL;
        uint64_t ne[3] = {ne0, ne1, ne2};
        uint32_t n_dims = ne2 ? 3 : ne1 ? 2 : 1;
        CHECK(t->type == type, "%s: type %s, want %s", name, ggml_type_name(t->type), ggml_type_name(type));
        CHECK(t->n_dims == n_dims, "%s: %u dims, want %u", name, t->n_dims, n_dims);
        for (uint32_t i = 0; i < n_dims; i++)
                CHECK(t->ne[i] == ne[i], "%s: ne[%u] = %" PRIu64 ", want %" PRIu64, name, i, t->ne[i], ne[i]);
        return t;
}

/* Whole tensor as f32 (malloc'd). */
static float *dequant(const struct gguf_tensor *t) {
        float *out = malloc(t->n_elements * sizeof(float));
        if (!out)
                return NULL;
        uint64_t row_bytes = 0;
        if (ggml_row_bytes(t->type, t->ne[0], &row_bytes) < 0) {
                free(out);
                return NULL;
        }
        const uint8_t *p = t->data;
        for (uint64_t r = 0; r < t->n_elements / t->ne[0]; r++)
                if (ggml_dequantize_row(t->type, p + r * row_bytes, out + r * t->ne[0], t->ne[0]) < 0) {
                        free(out);
                        return NULL;
                }
        return out;
}

static void check_hparams(const struct gguf_file *f, struct hparams *hp) {
        check_str(f, "general.architecture", ARCH);
        hp->n_layer = get_u32(f, ARCH ".block_count");
        hp->n_embd = get_u32(f, ARCH ".embedding_length");
        hp->n_ff = get_u32(f, ARCH ".feed_forward_length");
        hp->n_head = get_u32(f, ARCH ".attention.head_count");
        hp->n_vocab = get_u32(f, ARCH ".vocab_size");
        hp->q_lora = get_u32(f, ARCH ".attention.q_lora_rank");
        hp->kv_lora = get_u32(f, ARCH ".attention.kv_lora_rank");
        hp->rope = get_u32(f, ARCH ".rope.dimension_count");
        hp->k_mla = get_u32(f, ARCH ".attention.key_length_mla");
        hp->v_mla = get_u32(f, ARCH ".attention.value_length_mla");
        hp->n_expert = get_u32(f, ARCH ".expert_count");
        hp->n_expert_used = get_u32(f, ARCH ".expert_used_count");
        hp->n_shared = get_u32(f, ARCH ".expert_shared_count");
        hp->n_ff_exp = get_u32(f, ARCH ".expert_feed_forward_length");
        hp->n_dense = get_u32(f, ARCH ".leading_dense_block_count");
        hp->n_group = get_u32(f, ARCH ".expert_group_count");
        hp->n_group_used = get_u32(f, ARCH ".expert_group_used_count");

        /* MLA served as MQA: one KV head of (latent + rope), values of the latent. */
        CHECK(get_u32(f, ARCH ".attention.head_count_kv") == 1, "head_count_kv");
        CHECK(get_u32(f, ARCH ".attention.key_length") == hp->kv_lora + hp->rope, "key_length");
        CHECK(get_u32(f, ARCH ".attention.value_length") == hp->kv_lora, "value_length");
        CHECK(hp->k_mla > hp->rope, "key_length_mla %u <= rope %u", hp->k_mla, hp->rope);
        CHECK(hp->n_group > 0 && hp->n_expert % hp->n_group == 0, "expert groups");
        CHECK(hp->n_group_used <= hp->n_group && hp->n_expert_used <= hp->n_expert, "used counts");
        CHECK(hp->n_dense >= 1 && hp->n_dense < hp->n_layer, "leading_dense_block_count %u", hp->n_dense);
        CHECK(get_u32(f, ARCH ".expert_gating_func") == 2, "sigmoid gating");
        CHECK(get_f32(f, ARCH ".expert_weights_scale") > 0, "expert_weights_scale");
        bool b = false;
        struct vkinfer_err err = {{0}};
        CHECK(gguf_get_bool(f, ARCH ".expert_weights_norm", &b, &err) == 0 && b, "expert_weights_norm");
        check_str(f, ARCH ".rope.scaling.type", "yarn");
        CHECK(get_f32(f, ARCH ".rope.scaling.factor") > 1, "yarn factor");
        CHECK(get_u32(f, ARCH ".rope.scaling.original_context_length") > 0, "yarn original context");
        CHECK(get_f32(f, ARCH ".rope.scaling.yarn_log_multiplier") > 0, "yarn_log_multiplier");
        CHECK(get_f32(f, ARCH ".rope.scaling.yarn_beta_fast") == 32.0f, "beta_fast");
        CHECK(get_f32(f, ARCH ".rope.scaling.yarn_beta_slow") == 1.0f, "beta_slow");
        CHECK(get_f32(f, ARCH ".rope.freq_base") > 0, "freq_base");
        CHECK(get_f32(f, ARCH ".attention.layer_norm_rms_epsilon") > 0, "rms eps");
        CHECK(get_u32(f, ARCH ".context_length") >= 256, "context_length");
}

/* k_b[h][c][j] = kv_b[h*(nope+v) + j][c]: the kv_b row of head h, k
 * element j, is k_b[h][0..rank)[j]. Each such row must come back unchanged
 * through a Q8_0 round trip (which keeps Q8_0 values exactly): k_b holds the
 * values of a Q8_0 kv_b, as attn_v_b (Q8_0 along those same rows) does. */
static void check_k_b_q8_0(const struct gguf_tensor *k_b, uint32_t H, uint32_t rank, uint32_t nope, uint32_t il) {
        float *k = dequant(k_b), *row = malloc(rank * sizeof(float)), *back = malloc(rank * sizeof(float));
        uint8_t *q = malloc(rank / 32 * 34);
        CHECK(k && row && back && q, "layer %u: out of memory", il);
        uint64_t bad = 0;
        for (uint32_t h = 0; k && row && back && q && h < H; h++)
                for (uint32_t j = 0; j < nope; j++) {
                        for (uint32_t c = 0; c < rank; c++)
                                row[c] = k[((uint64_t) h * rank + c) * nope + j];
                        if (ggml_quantize_row(GGML_TYPE_Q8_0, row, q, rank) < 0 ||
                            ggml_dequantize_row(GGML_TYPE_Q8_0, q, back, rank) < 0) {
                                bad = UINT64_MAX;
                                break;
                        }
                        for (uint32_t c = 0; c < rank; c++)
                                bad += back[c] != row[c];
                }
        CHECK(bad == 0, "layer %u: attn_k_b: %" PRIu64 " values are not those of a Q8_0 kv_b row", il, bad);
        free(k);
        free(row);
        free(back);
        free(q);
}

static void check_tensors(const struct gguf_file *f, const struct hparams *hp) {
        const uint32_t Q = GGML_TYPE_Q8_0, F = GGML_TYPE_F32;
        uint32_t H = hp->n_head, nope = hp->k_mla - hp->rope, v = hp->v_mla, r = hp->kv_lora;
        tensor(f, "token_embd.weight", Q, hp->n_embd, hp->n_vocab, 0);
        tensor(f, "output_norm.weight", F, hp->n_embd, 0, 0);
        tensor(f, "output.weight", Q, hp->n_embd, hp->n_vocab, 0);
        uint64_t n_expected = 3;
        for (uint32_t i = 0; i < hp->n_layer; i++) {
                char n[128];
#define T(suffix, type, a, b, c)                                          \
        (snprintf(n, sizeof(n), "blk.%u." suffix, i), n_expected++, tensor(f, n, type, a, b, c))
                T("attn_norm.weight", F, hp->n_embd, 0, 0);
                T("attn_q_a.weight", Q, hp->n_embd, hp->q_lora, 0);
                T("attn_q_a_norm.weight", F, hp->q_lora, 0, 0);
                T("attn_q_b.weight", Q, hp->q_lora, H * hp->k_mla, 0);
                T("attn_kv_a_mqa.weight", Q, hp->n_embd, r + hp->rope, 0);
                T("attn_kv_a_norm.weight", F, r, 0, 0);
                const struct gguf_tensor *k_b = T("attn_k_b.weight", F, nope, r, H);
                T("attn_v_b.weight", Q, r, v, H);
                T("attn_output.weight", Q, H * v, hp->n_embd, 0);
                T("ffn_norm.weight", F, hp->n_embd, 0, 0);
                if (i < hp->n_dense) {
                        T("ffn_gate.weight", Q, hp->n_embd, hp->n_ff, 0);
                        T("ffn_up.weight", Q, hp->n_embd, hp->n_ff, 0);
                        T("ffn_down.weight", Q, hp->n_ff, hp->n_embd, 0);
                } else {
                        uint32_t E = hp->n_expert, fe = hp->n_ff_exp, fs = hp->n_ff_exp * hp->n_shared;
                        T("ffn_gate_inp.weight", F, hp->n_embd, E, 0);
                        T("exp_probs_b.bias", F, E, 0, 0);
                        T("ffn_gate_exps.weight", Q, hp->n_embd, fe, E);
                        T("ffn_up_exps.weight", Q, hp->n_embd, fe, E);
                        T("ffn_down_exps.weight", Q, fe, hp->n_embd, E);
                        T("ffn_gate_shexp.weight", Q, hp->n_embd, fs, 0);
                        T("ffn_up_shexp.weight", Q, hp->n_embd, fs, 0);
                        T("ffn_down_shexp.weight", Q, fs, hp->n_embd, 0);
                }
#undef T
                snprintf(n, sizeof(n), "blk.%u.attn_kv_b.weight", i);
                CHECK(gguf_find_tensor(f, n) == NULL, "%s: llama.cpp refuses it beside attn_k_b/attn_v_b", n);
                if (k_b && k_b->type == F && r % 32 == 0)
                        check_k_b_q8_0(k_b, H, r, nope, i);
        }
        CHECK(f->n_tensors == n_expected, "%" PRIu64 " tensors, want %" PRIu64, f->n_tensors, n_expected);
}

static void check_vocab(const struct gguf_file *f, const struct hparams *hp) {
        struct vkinfer_err err = {{0}};
        const struct gguf_value *toks = NULL, *types = NULL, *merges = NULL;
        check_str(f, "tokenizer.ggml.model", "gpt2");
        check_str(f, "tokenizer.ggml.pre", "deepseek-v3");
        CHECK(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks, &err) == 0, "tokens");
        CHECK(gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &types, &err) == 0, "token_type");
        CHECK(gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &merges, &err) == 0, "merges");
        if (!toks || !types || !merges)
                return;
        CHECK(toks->arr.n == hp->n_vocab && types->arr.n == hp->n_vocab, "vocab size");
        CHECK(merges->arr.n + 256 + 7 >= hp->n_vocab, "%" PRIu64 " merges", merges->arr.n);
        uint32_t bos = get_u32(f, "tokenizer.ggml.bos_token_id");
        uint32_t eos = get_u32(f, "tokenizer.ggml.eos_token_id");
        CHECK(bos == 0 && eos == 1, "bos %u eos %u", bos, eos);
        bool add_bos = false, add_eos = true;
        CHECK(gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &add_bos, &err) == 0 && add_bos, "add_bos");
        CHECK(gguf_get_bool(f, "tokenizer.ggml.add_eos_token", &add_eos, &err) == 0 && !add_eos, "add_eos");
        struct gguf_str tmpl;
        CHECK(gguf_get_str(f, "tokenizer.chat_template", &tmpl, &err) == 0 && tmpl.len > 100, "chat template");
        static const struct {
                int64_t id; /* negative: from the end */
                const char *text;
        } specials[] = {
                {0, "<｜begin▁of▁sentence｜>"}, {1, "<｜end▁of▁sentence｜>"}, {2, "<｜▁pad▁｜>"},
                {-4, "<｜User｜>"}, {-3, "<｜Assistant｜>"}, {-2, "<think>"}, {-1, "</think>"},
        };
        uint64_t n_control = 0;
        for (uint64_t i = 0; i < types->arr.n; i++)
                n_control += gguf_arr_get_i64(types, i) == 3;
        CHECK(n_control == 7, "%" PRIu64 " CONTROL tokens", n_control);
        for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
                uint64_t id = (uint64_t) (specials[i].id < 0 ? (int64_t) hp->n_vocab + specials[i].id : specials[i].id);
                CHECK(gguf_str_eq(toks->arr.strs[id], specials[i].text), "token %" PRIu64 " is not %s", id,
                      specials[i].text);
                CHECK(gguf_arr_get_i64(types, id) == 3, "token %" PRIu64 " not CONTROL", id);
        }
        /* Byte-level: ids 3..258 are the bytes in order, printable ASCII as
         * itself, the space byte as "Ġ" (U+0120), byte 0 as "Ā" (U+0100). */
        CHECK(gguf_str_eq(toks->arr.strs[3 + '!'], "!"), "byte token '!'");
        CHECK(gguf_str_eq(toks->arr.strs[3 + ' '], "Ġ"), "byte token ' '");
        CHECK(gguf_str_eq(toks->arr.strs[3], "Ā"), "byte token 0");
        bool found_space_the = false;
        for (uint64_t i = 0; i < toks->arr.n; i++)
                found_space_the |= gguf_str_eq(toks->arr.strs[i], "Ġthe");
        CHECK(found_space_the, "no \"Ġthe\" token in a vocabulary trained on the KJV");
}

static void check_references(const char *dir, const struct hparams *hp) {
        char path[4096];
        json_error_t jerr;
        snprintf(path, sizeof(path), "%s/logits.json", dir);
        json_t *idx = json_load_file(path, 0, &jerr);
        CHECK(idx != NULL, "%s: %s", path, jerr.text);
        if (!idx)
                return;
        CHECK(json_integer_value(json_object_get(idx, "vocab_size")) == hp->n_vocab, "vocab_size");
        snprintf(path, sizeof(path), "%s/logits.bin", dir);
        struct vkinfer_err err = {{0}};
        char *bin = NULL;
        size_t bin_size = 0;
        int r = read_file(path, &bin, &bin_size, &err);
        CHECK_OK(r, err);
        json_t *prompts = json_object_get(idx, "prompts");
        CHECK(json_array_size(prompts) >= 3, "prompts");
        size_t total = 0, i;
        json_t *p;
        json_array_foreach(prompts, i, p) {
                size_t n = (size_t) json_integer_value(json_object_get(p, "n_tokens"));
                size_t off = (size_t) json_integer_value(json_object_get(p, "offset_bytes"));
                json_t *ids = json_object_get(p, "ids"), *am = json_object_get(p, "argmax");
                CHECK(json_array_size(ids) == n && json_array_size(am) == n, "prompt %zu sizes", i);
                CHECK(off == total, "prompt %zu offset", i);
                CHECK(n > 0 && json_integer_value(json_array_get(ids, 0)) == 0, "prompt %zu: BOS first", i);
                total += n * hp->n_vocab * sizeof(float);
                if (!bin || total > bin_size)
                        continue;
                /* The stored argmax is the argmax of the stored row: the two files agree. */
                for (size_t t = 0; t < n; t++) {
                        const char *row = bin + off + t * hp->n_vocab * sizeof(float);
                        size_t best = 0;
                        float bv = -INFINITY;
                        for (size_t j = 0; j < hp->n_vocab; j++) {
                                float x;
                                memcpy(&x, row + j * sizeof(float), sizeof(x));
                                CHECK(isfinite(x), "prompt %zu row %zu: non-finite logit", i, t);
                                if (x > bv) {
                                        bv = x;
                                        best = j;
                                }
                        }
                        CHECK((json_int_t) best == json_integer_value(json_array_get(am, t)),
                              "prompt %zu row %zu: argmax %zu", i, t, best);
                }
        }
        CHECK(total == bin_size, "logits.bin is %zu bytes, the index describes %zu", bin_size, total);
        free(bin);
        json_decref(idx);

        snprintf(path, sizeof(path), "%s/perplexity.json", dir);
        json_t *pj = json_load_file(path, 0, &jerr);
        CHECK(pj != NULL, "%s: %s", path, jerr.text);
        if (!pj)
                return;
        double ppl = json_real_value(json_object_get(pj, "ppl"));
        /* The learning check of issue 5: far below the vocabulary size. */
        CHECK(ppl > 1 && ppl < hp->n_vocab / 20.0, "ppl %g", ppl);
        snprintf(path, sizeof(path), "%s/%s", dir, json_string_value(json_object_get(pj, "file")));
        char *text = NULL;
        size_t text_size = 0;
        r = read_file(path, &text, &text_size, &err);
        CHECK_OK(r, err);
        CHECK(text_size > 1000, "held-out text %zu bytes", text_size);
        free(text);
        json_decref(pj);
}

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: %s MODEL.gguf DATA_DIR\n", argv[0]);
                return 2;
        }
        struct vkinfer_err err = {{0}};
        struct gguf_file *f = NULL;
        int r = gguf_open(argv[1], &f, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return test_exit("demo-files");
        struct hparams hp = {0};
        check_hparams(f, &hp);
        if (!test_failures) {
                check_tensors(f, &hp);
                check_vocab(f, &hp);
                check_references(argv[2], &hp);
        }
        gguf_close(f);
        return test_exit("demo-files");
}
