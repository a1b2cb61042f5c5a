/* vkinfer inspect FILE [--json]: what a GGUF file holds. The facts are
 * gathered once into a JSON tree (jansson); --json prints that tree, the
 * default renders the same tree as text, so both always agree. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "gguf/gguf.h"

/* Arrays up to this many elements are shown in full; longer ones by count. */
#define INSPECT_MAX_ARRAY 64
/* 15 significant digits: f32 values (made shortest below) print cleanly,
 * f64 ones lose nothing that matters for reading them. */
#define INSPECT_REAL_PRECISION JSON_REAL_PRECISION(15)

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
                return json_pack("{s:s, s:I}", "array", gguf_type_name(v->arr.type), (json_int_t) v->arr.n);
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

/* Hook: which chat-template family a template's text belongs to, by
 * markers only. The chat module (src/chat) owns real recognition; when it
 * exposes a lookup, call it here instead. */
static const char *template_family(const char *s, uint64_t n) {
        char *t = strndup(s, n);
        const char *family = "unknown";
        if (!t)
                return family;
        if (strstr(t, "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>")) { /* <｜Assistant｜> */
                if (strstr(t, "thinking is defined"))
                        family = "deepseek-v3.1";
                else if (strstr(t, "<think>"))
                        family = "deepseek-r1";
                else
                        family = "deepseek-v3";
        } else if (strstr(t, "<|im_start|>"))
                family = "chatml";
        else if (strstr(t, "<|start_header_id|>"))
                family = "llama3";
        free(t);
        return family;
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

static json_t *tensors_json(const struct gguf_file *f, json_t **ret_totals) {
        json_t *list = json_array(), *per_type = json_object();
        uint64_t total = 0;
        for (uint64_t i = 0; i < f->n_tensors; i++) {
                const struct gguf_tensor *t = &f->tensors[i];
                json_t *shape = json_array();
                for (uint32_t d = 0; d < t->n_dims; d++)
                        json_array_append_new(shape, json_integer((json_int_t) t->ne[d]));
                const char *type = ggml_type_name(t->type);
                json_array_append_new(list, json_pack("{s:o, s:s, s:o, s:I, s:I}", "name", json_str(t->name, strlen(t->name)),
                                                      "type", type, "shape", shape, "bytes", (json_int_t) t->n_bytes,
                                                      "offset", (json_int_t) t->offset));
                json_t *pt = json_object_get(per_type, type);
                if (!pt) {
                        pt = json_pack("{s:I, s:I}", "count", (json_int_t) 0, "bytes", (json_int_t) 0);
                        json_object_set_new(per_type, type, pt);
                }
                json_object_set_new(pt, "count", json_integer(json_integer_value(json_object_get(pt, "count")) + 1));
                json_object_set_new(pt, "bytes", json_integer(json_integer_value(json_object_get(pt, "bytes")) +
                                                              (json_int_t) t->n_bytes));
                total += t->n_bytes; /* every tensor lies inside the file: no overflow */
        }
        *ret_totals = json_pack("{s:I, s:I, s:o}", "count", (json_int_t) f->n_tensors, "bytes", (json_int_t) total,
                                "per_type", per_type);
        return list;
}

static json_t *inspect_json(const char *path, const struct gguf_file *f) {
        json_t *root = json_pack("{s:o, s:i, s:I, s:I, s:I, s:I}", "file", json_str(path, strlen(path)), "version",
                                 (int) f->version, "size", (json_int_t) f->size, "alignment", (json_int_t) f->alignment,
                                 "data_offset", (json_int_t) f->data_offset, "metadata_count", (json_int_t) f->n_kv);
        struct gguf_str arch = {"", 0};
        bool has_arch = gguf_get_str(f, "general.architecture", &arch, NULL) == 0;
        json_object_set_new(root, "architecture", has_arch ? json_gstr(arch) : json_null());

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
                json_object_set_new(ct, "family", json_string(template_family(tmpl.ptr, tmpl.len)));
        } else
                json_object_set_new(ct, "present", json_false());
        json_object_set_new(root, "chat_template", ct);

        json_t *totals = NULL;
        json_object_set_new(root, "tensors", tensors_json(f, &totals));
        json_object_set_new(root, "totals", totals);
        return root;
}

/* ---- Text rendering of the JSON tree ---- */

static void print_value(FILE *out, json_t *v) {
        if (json_is_string(v)) {
                /* One line per value: newlines of long strings are shown escaped. */
                char *s = json_dumps(v, JSON_ENCODE_ANY);
                if (json_string_length(v) > 120)
                        fprintf(out, "<string, %zu bytes>", json_string_length(v));
                else
                        fputs(s ? s : "?", out);
                free(s);
                return;
        }
        if (json_is_object(v) && json_object_get(v, "array")) {
                fprintf(out, "[%" JSON_INTEGER_FORMAT " x %s]", json_integer_value(json_object_get(v, "count")),
                        json_string_value(json_object_get(v, "array")));
                return;
        }
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | INSPECT_REAL_PRECISION);
        fputs(s ? s : "?", out);
        free(s);
}

static void print_object(FILE *out, const char *title, json_t *obj) {
        const char *k;
        json_t *v;
        fprintf(out, "%s:%s\n", title, json_object_size(obj) ? "" : " (none)");
        json_object_foreach(obj, k, v) {
                fprintf(out, "  %s = ", k);
                print_value(out, v);
                fputc('\n', out);
        }
}

static void print_token(FILE *out, json_t *tok, const char *name) {
        json_t *t = json_object_get(tok, name);
        if (!t)
                return;
        fprintf(out, "  %s: %" JSON_INTEGER_FORMAT, name, json_integer_value(json_object_get(t, "id")));
        if (json_object_get(t, "text")) {
                fputc(' ', out);
                print_value(out, json_object_get(t, "text"));
        }
        fputc('\n', out);
}

static void print_text(FILE *out, json_t *root) {
        json_t *arch = json_object_get(root, "architecture");
        fprintf(out, "file: %s\n", json_string_value(json_object_get(root, "file")));
        fprintf(out, "GGUF version: %" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT " bytes, alignment %" JSON_INTEGER_FORMAT
                ", data offset %" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT " metadata keys\n",
                json_integer_value(json_object_get(root, "version")), json_integer_value(json_object_get(root, "size")),
                json_integer_value(json_object_get(root, "alignment")),
                json_integer_value(json_object_get(root, "data_offset")),
                json_integer_value(json_object_get(root, "metadata_count")));
        fprintf(out, "architecture: %s\n", json_is_string(arch) ? json_string_value(arch) : "(none)");
        print_object(out, "general", json_object_get(root, "general"));
        print_object(out, "hyperparameters", json_object_get(root, "hyperparameters"));

        json_t *tok = json_object_get(root, "tokenizer");
        fprintf(out, "tokenizer:%s\n", json_object_size(tok) ? "" : " (none)");
        static const char *const plain[] = {"model", "pre", "vocab_size", "add_bos", "add_eos", "merges"};
        for (size_t i = 0; i < ELEMENTSOF(plain); i++) {
                json_t *v = json_object_get(tok, plain[i]);
                if (!v)
                        continue;
                fprintf(out, "  %s: ", plain[i]);
                if (json_is_string(v))
                        fputs(json_string_value(v), out);
                else
                        print_value(out, v);
                fputc('\n', out);
        }
        static const char *const ids[] = {"bos", "eos", "eot", "pad", "unk"};
        for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                print_token(out, tok, ids[i]);

        json_t *ct = json_object_get(root, "chat_template");
        if (json_is_true(json_object_get(ct, "present")))
                fprintf(out, "chat template: present, %" JSON_INTEGER_FORMAT " bytes, family %s\n",
                        json_integer_value(json_object_get(ct, "length")), json_string_value(json_object_get(ct, "family")));
        else
                fprintf(out, "chat template: absent\n");

        json_t *tensors = json_object_get(root, "tensors"), *t;
        size_t i;
        if (json_array_size(tensors))
                fprintf(out, "tensors:\n  %-48s %-8s %-28s %14s\n", "name", "type", "shape", "bytes");
        json_array_foreach(tensors, i, t) {
                char shape[128] = "[", *p = shape + 1;
                json_t *d;
                size_t j;
                json_array_foreach(json_object_get(t, "shape"), j, d)
                        p += snprintf(p, shape + sizeof(shape) - p, "%s%" JSON_INTEGER_FORMAT, j ? ", " : "",
                                      json_integer_value(d));
                snprintf(p, shape + sizeof(shape) - p, "]");
                fprintf(out, "  %-48s %-8s %-28s %14" JSON_INTEGER_FORMAT "\n", json_string_value(json_object_get(t, "name")),
                        json_string_value(json_object_get(t, "type")), shape, json_integer_value(json_object_get(t, "bytes")));
        }
        json_t *totals = json_object_get(root, "totals");
        fprintf(out, "total: %" JSON_INTEGER_FORMAT " tensors, %" JSON_INTEGER_FORMAT " bytes\n",
                json_integer_value(json_object_get(totals, "count")), json_integer_value(json_object_get(totals, "bytes")));
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(totals, "per_type"), k, v)
                fprintf(out, "  %-8s %6" JSON_INTEGER_FORMAT " tensors %14" JSON_INTEGER_FORMAT " bytes\n", k,
                        json_integer_value(json_object_get(v, "count")), json_integer_value(json_object_get(v, "bytes")));
}

static void usage(FILE *out) {
        fprintf(out, "Usage: vkinfer inspect FILE [--json]\n\n"
                     "Prints a GGUF file's architecture, hyperparameters, tokenizer, chat template\n"
                     "and tensors, with totals. --json prints the same as one JSON object.\n");
}

int cmd_inspect(int argc, char **argv) {
        const char *path = NULL;
        bool as_json = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        as_json = true;
                else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        usage(stdout);
                        return 0;
                } else if (argv[i][0] == '-' && argv[i][1] != 0) {
                        fprintf(stderr, "vkinfer inspect: unknown option '%s'\n", argv[i]);
                        usage(stderr);
                        return 2;
                } else if (path) {
                        fprintf(stderr, "vkinfer inspect: one FILE only\n");
                        return 2;
                } else
                        path = argv[i];
        }
        if (!path) {
                usage(stderr);
                return 2;
        }

        struct vkinfer_err err = {{0}};
        struct gguf_file *f = NULL;
        int r = gguf_open(path, &f, &err);
        if (r < 0) {
                fprintf(stderr, "vkinfer inspect: %s\n", err.msg);
                return 1;
        }
        json_t *root = inspect_json(path, f);
        if (!root) {
                gguf_close(f);
                fprintf(stderr, "vkinfer inspect: out of memory\n");
                return 1;
        }
        if (as_json) {
                char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | INSPECT_REAL_PRECISION);
                if (s)
                        puts(s);
                free(s);
                r = s ? 0 : -ENOMEM;
        } else
                print_text(stdout, root);
        json_decref(root);
        gguf_close(f);
        if (fflush(stdout) != 0 || r < 0) {
                fprintf(stderr, "vkinfer inspect: cannot write the output\n");
                return 1;
        }
        return 0;
}
