/* A GGUF file described as JSON (jansson): what `vkinfer inspect` prints
 * and what a daemon can report about a model. Strings from the file are
 * made valid UTF-8 on the way (jansson refuses anything else). */
#include "gguf/gguf-describe.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arrays up to this many elements are shown in full; longer ones by count. */
#define INSPECT_MAX_ARRAY 64

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid:
 * no overlongs, surrogates or code points past U+10FFFF, as jansson wants. */
static size_t utf8_len(const uint8_t *p, uint64_t n) {
        uint8_t c = p[0];
        size_t len;
        uint32_t cp;
        if (c < 0x80)
                return 1;
        if ((c & 0xe0) == 0xc0)
                len = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
                len = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
                len = 4, cp = c & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

/* Strings in GGUF files are meant to be UTF-8, but nothing guarantees it and
 * jansson refuses invalid UTF-8: each bad byte becomes U+FFFD. */
static json_t *json_str(const char *p, uint64_t n) {
        json_t *j = json_stringn(p, n);
        if (j || n > SIZE_MAX / 3 - 1)
                return j;
        char *q = malloc(n * 3 + 1);
        size_t o = 0;
        if (!q)
                return NULL;
        for (uint64_t i = 0; i < n;) {
                size_t len = utf8_len((const uint8_t *) p + i, n - i);
                if (len) {
                        memcpy(q + o, p + i, len);
                        o += len;
                        i += len;
                } else {
                        memcpy(q + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                }
        }
        j = json_stringn(q, o);
        free(q);
        return j;
}

static json_t *json_gstr(struct gguf_str s) {
        return json_str(s.ptr, s.len);
}

/* The shortest decimal that reads back as the same float, as a double, so
 * 1e-5f prints as 1e-05 rather than 9.9999997473787516e-06. */
static double f32_shortest(double v) {
        float f = (float) v;
        char buf[32];
        for (int p = 1; p <= 9; p++) {
                snprintf(buf, sizeof(buf), "%.*g", p, v);
                if (strtof(buf, NULL) == f)
                        return strtod(buf, NULL);
        }
        return v;
}

static json_t *scalar_json(const struct gguf_value *v) {
        switch (v->type) {
        case GGUF_TYPE_UINT8: case GGUF_TYPE_UINT16: case GGUF_TYPE_UINT32: case GGUF_TYPE_UINT64:
                return v->u64 <= INT64_MAX ? json_integer((json_int_t) v->u64) : json_real((double) v->u64);
        case GGUF_TYPE_INT8: case GGUF_TYPE_INT16: case GGUF_TYPE_INT32: case GGUF_TYPE_INT64:
                return json_integer(v->i64);
        case GGUF_TYPE_FLOAT32:
                return json_real(f32_shortest(v->f64)); /* NaN/inf give NULL: shown as null */
        case GGUF_TYPE_FLOAT64:
                return json_real(v->f64);
        case GGUF_TYPE_BOOL:
                return json_boolean(v->u64);
        case GGUF_TYPE_STRING:
                return json_gstr(v->str);
        default:
                return NULL;
        }
}

/* A value as JSON: scalars as themselves, short arrays in full, long ones
 * as {"array": element type, "count": n}. Never NULL-crashes: a value JSON
 * cannot hold (NaN) becomes null. */
static json_t *value_json(const struct gguf_value *v) {
        if (v->type != GGUF_TYPE_ARRAY) {
                json_t *j = scalar_json(v);
                return j ? j : json_null();
        }
        if (v->arr.n > INSPECT_MAX_ARRAY)
                return json_pack("{s:s, s:I}", "array", gguf_type_name(v->arr.type), "count", (json_int_t) v->arr.n);
        json_t *a = json_array();
        for (uint64_t i = 0; i < v->arr.n && a; i++) {
                json_t *e = NULL;
                if (v->arr.type == GGUF_TYPE_STRING)
                        e = json_gstr(v->arr.strs[i]);
                else if (v->arr.type == GGUF_TYPE_ARRAY)
                        e = value_json(&v->arr.arrs[i]);
                else {
                        /* Element decoding lives in the library: go through it. */
                        struct gguf_value s = {0};
                        if (v->arr.type == GGUF_TYPE_FLOAT32 || v->arr.type == GGUF_TYPE_FLOAT64) {
                                s.type = v->arr.type;
                                s.f64 = gguf_arr_get_f64(v, i);
                        } else if (v->arr.type == GGUF_TYPE_BOOL) {
                                s.type = GGUF_TYPE_BOOL;
                                s.u64 = gguf_arr_get_i64(v, i) != 0;
                        } else if (v->arr.type == GGUF_TYPE_UINT64) {
                                s.type = GGUF_TYPE_UINT64;
                                s.u64 = (uint64_t) gguf_arr_get_i64(v, i);
                        } else {
                                s.type = GGUF_TYPE_INT64;
                                s.i64 = gguf_arr_get_i64(v, i);
                        }
                        e = scalar_json(&s);
                }
                json_array_append_new(a, e ? e : json_null());
        }
        return a;
}

/* Token id key (e.g. "tokenizer.ggml.bos_token_id") as {"id": n, "text": s}. */
static void add_token(json_t *tok, const struct gguf_file *f, const struct gguf_value *tokens, const char *key,
                      const char *name) {
        uint64_t id;
        struct vkinfer_err err;
        if (gguf_get_u64(f, key, &id, &err) < 0)
                return;
        json_t *o = json_pack("{s:I}", "id", id <= INT64_MAX ? (json_int_t) id : (json_int_t) -1);
        struct gguf_str s;
        if (o && tokens && gguf_arr_get_str(tokens, id, &s))
                json_object_set_new(o, "text", json_gstr(s));
        json_object_set_new(tok, name, o);
}

static json_t *tokenizer_json(const struct gguf_file *f) {
        json_t *tok = json_object();
        const struct gguf_value *tokens = NULL, *merges = NULL;
        struct gguf_str s;
        bool b;
        if (gguf_get_str(f, "tokenizer.ggml.model", &s, NULL) == 0)
                json_object_set_new(tok, "model", json_gstr(s));
        if (gguf_get_str(f, "tokenizer.ggml.pre", &s, NULL) == 0)
                json_object_set_new(tok, "pre", json_gstr(s));
        if (gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &tokens, NULL) == 0)
                json_object_set_new(tok, "vocab_size", json_integer((json_int_t) tokens->arr.n));
        else
                tokens = NULL;
        add_token(tok, f, tokens, "tokenizer.ggml.bos_token_id", "bos");
        add_token(tok, f, tokens, "tokenizer.ggml.eos_token_id", "eos");
        add_token(tok, f, tokens, "tokenizer.ggml.eot_token_id", "eot");
        add_token(tok, f, tokens, "tokenizer.ggml.padding_token_id", "pad");
        add_token(tok, f, tokens, "tokenizer.ggml.unknown_token_id", "unk");
        if (gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &b, NULL) == 0)
                json_object_set_new(tok, "add_bos", json_boolean(b));
        if (gguf_get_bool(f, "tokenizer.ggml.add_eos_token", &b, NULL) == 0)
                json_object_set_new(tok, "add_eos", json_boolean(b));
        if (gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &merges, NULL) == 0)
                json_object_set_new(tok, "merges", json_integer((json_int_t) merges->arr.n));
        return tok;
}

/* ggml's own name of a type ("q4_K", "iq2_xxs", "bf16"), as llama.cpp
 * prints it: ours lowercased, but for the K of the k-quants. */
static const char *ggml_lower_name(uint32_t type, char *buf, size_t size) {
        snprintf(buf, size, "%s", ggml_type_name(type));
        size_t n = strlen(buf);
        for (size_t i = 0; i < n; i++)
                buf[i] = (char) tolower((unsigned char) buf[i]);
        if (n >= 2 && buf[n - 2] == '_' && buf[n - 1] == 'k')
                buf[n - 1] = 'K';
        return buf;
}

static json_t *tensors_json(const struct gguf_file *f, json_t **ret_totals) {
        json_t *list = json_array(), *per_type = json_object();
        uint64_t total = 0, count[GGML_TYPE_COUNT_] = {0}, bytes[GGML_TYPE_COUNT_] = {0};
        for (uint64_t i = 0; i < f->n_tensors; i++) {
                const struct gguf_tensor *t = &f->tensors[i];
                json_t *shape = json_array();
                for (uint32_t d = 0; d < t->n_dims; d++)
                        json_array_append_new(shape, json_integer((json_int_t) t->ne[d]));
                json_array_append_new(list, json_pack("{s:o, s:s, s:o, s:I, s:I}", "name", json_str(t->name, strlen(t->name)),
                                                      "type", ggml_type_name(t->type), "shape", shape,
                                                      "bytes", (json_int_t) t->n_bytes, "offset", (json_int_t) t->offset));
                if (t->type < GGML_TYPE_COUNT_) { /* always: the reader knows every type it accepts */
                        count[t->type]++;
                        bytes[t->type] += t->n_bytes;
                }
                total += t->n_bytes; /* every tensor lies inside the file: no overflow */
        }
        /* In ggml's type order, as llama.cpp's loader lists them. */
        for (uint32_t type = 0; type < GGML_TYPE_COUNT_; type++) {
                char name[32];
                if (count[type])
                        json_object_set_new(per_type, ggml_type_name(type),
                                            json_pack("{s:I, s:I, s:s}", "count", (json_int_t) count[type], "bytes",
                                                      (json_int_t) bytes[type], "ggml_name",
                                                      ggml_lower_name(type, name, sizeof(name))));
        }
        *ret_totals = json_pack("{s:I, s:I, s:o}", "count", (json_int_t) f->n_tensors, "bytes", (json_int_t) total,
                                "per_type", per_type);
        return list;
}

/* ---- The file type (general.file_type), named as llama.cpp names it ---- */

#define FTYPE_GUESSED 1024 /* llama.cpp's LLAMA_FTYPE_GUESSED */

/* llama.cpp's llama_ftype values (include/llama.h), the preset llama-quantize
 * takes for each and the name llama_ftype_name() gives it
 * (src/llama-model-loader.cpp); checked against llama_ftype_name() of
 * llama.cpp d32676d. From llama.cpp, MIT licence. */
static const struct {
        uint32_t id;
        const char *preset, *name;
} ftypes[] = {
        {0, "F32", "all F32"}, {1, "F16", "F16"}, {2, "Q4_0", "Q4_0"}, {3, "Q4_1", "Q4_1"},
        {7, "Q8_0", "Q8_0"}, {8, "Q5_0", "Q5_0"}, {9, "Q5_1", "Q5_1"},
        {10, "Q2_K", "Q2_K - Medium"}, {11, "Q3_K_S", "Q3_K - Small"}, {12, "Q3_K_M", "Q3_K - Medium"},
        {13, "Q3_K_L", "Q3_K - Large"}, {14, "Q4_K_S", "Q4_K - Small"}, {15, "Q4_K_M", "Q4_K - Medium"},
        {16, "Q5_K_S", "Q5_K - Small"}, {17, "Q5_K_M", "Q5_K - Medium"}, {18, "Q6_K", "Q6_K"},
        {19, "IQ2_XXS", "IQ2_XXS - 2.0625 bpw"}, {20, "IQ2_XS", "IQ2_XS - 2.3125 bpw"},
        {21, "Q2_K_S", "Q2_K - Small"}, {22, "IQ3_XS", "IQ3_XS - 3.3 bpw"},
        {23, "IQ3_XXS", "IQ3_XXS - 3.0625 bpw"}, {24, "IQ1_S", "IQ1_S - 1.5625 bpw"},
        {25, "IQ4_NL", "IQ4_NL - 4.5 bpw"}, {26, "IQ3_S", "IQ3_S - 3.4375 bpw"},
        {27, "IQ3_M", "IQ3_S mix - 3.66 bpw"}, {28, "IQ2_S", "IQ2_S - 2.5 bpw"},
        {29, "IQ2_M", "IQ2_M - 2.7 bpw"}, {30, "IQ4_XS", "IQ4_XS - 4.25 bpw"},
        {31, "IQ1_M", "IQ1_M - 1.75 bpw"}, {32, "BF16", "BF16"},
        {36, "TQ1_0", "TQ1_0 - 1.69 bpw ternary"}, {37, "TQ2_0", "TQ2_0 - 2.06 bpw ternary"},
        {38, "MXFP4_MOE", "MXFP4 MoE"}, {39, "NVFP4", "NVFP4"}, {40, "Q1_0", "Q1_0"}, {41, "Q2_0", "Q2_0"},
};

/* The file type llama.cpp guesses from the most common tensor type when
 * the file has none; 0 (all F32) for F32 and the types it has no guess for. */
static const uint8_t ftype_of_type[GGML_TYPE_COUNT_] = {
        [GGML_TYPE_F16] = 1, [GGML_TYPE_BF16] = 32, [GGML_TYPE_Q4_0] = 2, [GGML_TYPE_Q4_1] = 3,
        [GGML_TYPE_Q5_0] = 8, [GGML_TYPE_Q5_1] = 9, [GGML_TYPE_Q8_0] = 7, [GGML_TYPE_Q2_K] = 10,
        [GGML_TYPE_Q3_K] = 12, [GGML_TYPE_Q4_K] = 15, [GGML_TYPE_Q5_K] = 17, [GGML_TYPE_Q6_K] = 18,
        [GGML_TYPE_TQ1_0] = 36, [GGML_TYPE_TQ2_0] = 37, [GGML_TYPE_IQ2_XXS] = 19, [GGML_TYPE_IQ2_XS] = 20,
        [GGML_TYPE_IQ2_S] = 28, [GGML_TYPE_IQ3_XXS] = 23, [GGML_TYPE_IQ1_S] = 24, [GGML_TYPE_IQ1_M] = 31,
        [GGML_TYPE_IQ4_NL] = 25, [GGML_TYPE_IQ4_XS] = 30, [GGML_TYPE_IQ3_S] = 26, [GGML_TYPE_NVFP4] = 39,
        [GGML_TYPE_Q1_0] = 40, [GGML_TYPE_Q2_0] = 41,
};

/* llama.cpp's loader walks the tensors by layer ("blk.N." read with
 * sscanf, -1 for the others), then by name: that order breaks ties. */
struct weight {
        int layer;
        const char *name;
        uint32_t type;
};

/* sscanf(name, "blk.%d.", &layer) as glibc does it (strtol, then the cast
 * to int), without sscanf's undefined behaviour on overflow. */
static int weight_layer(const char *name) {
        char *end;
        if (strncmp(name, "blk.", 4) != 0)
                return -1;
        long v = strtol(name + 4, &end, 10);
        return end == name + 4 ? -1 : (int) v;
}

static int weight_cmp(const void *pa, const void *pb) {
        const struct weight *a = pa, *b = pb;
        if (a->layer != b->layer)
                return a->layer < b->layer ? -1 : 1;
        return strcmp(a->name, b->name);
}

/* The type that first reaches the highest count in that order, as the
 * loader computes it; -1 when out of memory. */
static int64_t most_common_type(const struct gguf_file *f) {
        struct weight *w = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof(*w));
        uint64_t count[GGML_TYPE_COUNT_] = {0}, best_n = 0;
        uint32_t best = GGML_TYPE_F32;
        if (!w)
                return -1;
        for (uint64_t i = 0; i < f->n_tensors; i++)
                w[i] = (struct weight){weight_layer(f->tensors[i].name), f->tensors[i].name, f->tensors[i].type};
        qsort(w, f->n_tensors, sizeof(*w), weight_cmp);
        for (uint64_t i = 0; i < f->n_tensors; i++)
                if (w[i].type < GGML_TYPE_COUNT_ && best_n < ++count[w[i].type]) {
                        best_n = count[w[i].type];
                        best = w[i].type;
                }
        free(w);
        return best;
}

/* The file type as llama.cpp would report it: {id, preset, name, guessed}
 * (name as llama_ftype_name() prints it, "(guessed) " first when the file
 * has no general.file_type), or {error} when it has one llama.cpp refuses. */
static json_t *file_type_json(const struct gguf_file *f) {
        const struct gguf_kv *kv = gguf_find_kv(f, "general.file_type");
        uint64_t id;
        bool guessed = !kv;
        if (kv && kv->value.type != GGUF_TYPE_UINT32) {
                char msg[160];
                snprintf(msg, sizeof(msg), "general.file_type is %s; llama.cpp reads it as u32 and refuses the file",
                         gguf_type_name(kv->value.type));
                return json_pack("{s:s}", "error", msg);
        }
        if (kv)
                id = kv->value.u64;
        else {
                int64_t t = most_common_type(f);
                if (t < 0)
                        return NULL;
                id = ftype_of_type[t] | FTYPE_GUESSED;
        }
        const char *preset = NULL, *name = "unknown, may not work";
        for (size_t i = 0; i < ELEMENTSOF(ftypes); i++)
                if (ftypes[i].id == (id & ~(uint64_t) FTYPE_GUESSED)) {
                        preset = ftypes[i].preset;
                        name = ftypes[i].name;
                }
        char full[64];
        snprintf(full, sizeof(full), "%s%s", id & FTYPE_GUESSED ? "(guessed) " : "", name);
        return json_pack("{s:I, s:s?, s:s, s:b}", "id", (json_int_t) (id & ~(uint64_t) FTYPE_GUESSED), "preset", preset,
                         "name", full, "guessed", guessed);
}

json_t *gguf_describe(const struct gguf_file *f) {
        json_t *root = json_pack("{s:i, s:I, s:I, s:I, s:I}", "version",
                                 (int) f->version, "size", (json_int_t) f->size, "alignment", (json_int_t) f->alignment,
                                 "data_offset", (json_int_t) f->data_offset, "metadata_count", (json_int_t) f->n_kv);
        struct gguf_str arch = {"", 0};
        bool has_arch = gguf_get_str(f, "general.architecture", &arch, NULL) == 0;
        json_object_set_new(root, "architecture", has_arch ? json_gstr(arch) : json_null());
        json_object_set_new(root, "file_type", file_type_json(f));

        json_t *general = json_object(), *hparams = json_object();
        for (uint64_t i = 0; i < f->n_kv; i++) {
                const struct gguf_kv *kv = &f->kvs[i];
                size_t kl = strlen(kv->key);
                if (strncmp(kv->key, "general.", 8) == 0)
                        json_object_set_new(general, kv->key, value_json(&kv->value));
                else if (has_arch && arch.len > 0 && kl > arch.len && memcmp(kv->key, arch.ptr, arch.len) == 0 &&
                         kv->key[arch.len] == '.')
                        json_object_set_new(hparams, kv->key, value_json(&kv->value));
        }
        json_object_set_new(root, "general", general);
        json_object_set_new(root, "hyperparameters", hparams);
        json_object_set_new(root, "tokenizer", tokenizer_json(f));

        struct gguf_str tmpl;
        json_t *ct = json_object();
        if (gguf_get_str(f, "tokenizer.chat_template", &tmpl, NULL) == 0) {
                json_object_set_new(ct, "present", json_true());
                json_object_set_new(ct, "length", json_integer((json_int_t) tmpl.len));
        } else
                json_object_set_new(ct, "present", json_false());
        json_object_set_new(root, "chat_template", ct);

        json_t *totals = NULL;
        json_object_set_new(root, "tensors", tensors_json(f, &totals));
        json_object_set_new(root, "totals", totals);
        return root;
}

