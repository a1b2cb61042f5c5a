/* vkinfer inspect FILE [--json]: what a GGUF file holds. The facts are
 * gathered once into a JSON tree (gguf_describe); --json prints that tree,
 * the default renders the same tree as text, so both always agree. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "chat/chat-template.h"
#include "gguf/gguf-describe.h"

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
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | GGUF_DESCRIBE_REAL_PRECISION);
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

/* The preset as llama.cpp prints it ("file type = Q4_K - Medium"), and
 * where it comes from. */
static void print_file_type(FILE *out, json_t *ft) {
        json_t *name = json_object_get(ft, "name"), *preset = json_object_get(ft, "preset");
        if (json_is_string(json_object_get(ft, "error")))
                fprintf(out, "file type: (none) %s\n", json_string_value(json_object_get(ft, "error")));
        else if (json_is_true(json_object_get(ft, "guessed")))
                fprintf(out, "file type: %s (no general.file_type: llama.cpp's guess from the most common tensor type)\n",
                        json_string_value(name));
        else {
                fprintf(out, "file type: %s (general.file_type = %" JSON_INTEGER_FORMAT, json_string_value(name),
                        json_integer_value(json_object_get(ft, "id")));
                if (json_is_string(preset))
                        fprintf(out, ", llama-quantize preset %s", json_string_value(preset));
                fputs(")\n", out);
        }
}

static void print_text(FILE *out, json_t *root) {
        json_t *arch = json_object_get(root, "architecture");
        json_t *file = json_object_get(root, "file");
        fprintf(out, "file: %s\n", json_is_string(file) ? json_string_value(file) : "(not UTF-8)");
        fprintf(out, "GGUF version: %" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT " bytes, alignment %" JSON_INTEGER_FORMAT
                ", data offset %" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT " metadata keys\n",
                json_integer_value(json_object_get(root, "version")), json_integer_value(json_object_get(root, "size")),
                json_integer_value(json_object_get(root, "alignment")),
                json_integer_value(json_object_get(root, "data_offset")),
                json_integer_value(json_object_get(root, "metadata_count")));
        fprintf(out, "architecture: %s\n", json_is_string(arch) ? json_string_value(arch) : "(none)");
        print_file_type(out, json_object_get(root, "file_type"));
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
        /* The count as llama.cpp's loader prints it ("- type  f32:   23 tensors"), then the bytes. */
        json_object_foreach(json_object_get(totals, "per_type"), k, v)
                fprintf(out, "  - type %4s: %4" JSON_INTEGER_FORMAT " tensors, %" JSON_INTEGER_FORMAT " bytes\n",
                        json_string_value(json_object_get(v, "ggml_name")), json_integer_value(json_object_get(v, "count")),
                        json_integer_value(json_object_get(v, "bytes")));
}

static void usage(FILE *out) {
        fprintf(out, "Usage: vkinfer inspect FILE [--json]\n\n"
                     "Prints a GGUF file's architecture, file type (preset), hyperparameters,\n"
                     "tokenizer, chat template and tensors, with totals and the count of tensors\n"
                     "per type as llama.cpp reports them. --json prints the same as one JSON object.\n");
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
        json_t *root = gguf_describe(f);
        if (root)
                json_object_set_new(root, "file", json_stringn(path, strlen(path))); /* NULL for a non-UTF-8 path: left out */
        if (!root) {
                gguf_close(f);
                fprintf(stderr, "vkinfer inspect: out of memory\n");
                return 1;
        }
        /* The template's family comes from the chat layer's recogniser. */
        struct gguf_str tmpl;
        json_t *ct = json_object_get(root, "chat_template");
        if (ct && gguf_get_str(f, "tokenizer.chat_template", &tmpl, NULL) == 0) {
                char *src = gguf_str_dup(tmpl);
                if (src)
                        json_object_set_new(ct, "family", json_string(chat_family_name(chat_template_detect(src))));
                free(src);
        }
        if (as_json) {
                char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | GGUF_DESCRIBE_REAL_PRECISION);
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
