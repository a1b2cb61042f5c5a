/* Writes a tiny seeded model to a file, for golden tests and by hand:
 *   tiny-model-gen VARIANT PATH [TYPE [SEED]]
 * TYPE is f32 (default), f16, bf16, q8_0 or q4_0. With no arguments it
 * lists the variants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tiny-models.h"

int main(int argc, char **argv) {
        static const struct {
                const char *name;
                uint32_t type;
        } types[] = {
                {"f32", GGML_TYPE_F32}, {"f16", GGML_TYPE_F16}, {"bf16", GGML_TYPE_BF16},
                {"q8_0", GGML_TYPE_Q8_0}, {"q4_0", GGML_TYPE_Q4_0},
        };
        struct tiny_model_opts o;
        struct vkinfer_err err = {0};

        /* --chat TEMPLATE.jinja (first): attach a byte-level tokenizer and
         * that chat template, and widen the vocabulary to 264 tokens. */
        _cleanup_free_ char *tmpl = NULL;
        if (argc > 2 && strcmp(argv[1], "--chat") == 0) {
                if (read_file(argv[2], &tmpl, NULL, &err) < 0) {
                        fprintf(stderr, "%s\n", err.msg);
                        return 1;
                }
                argc -= 2;
                argv += 2;
        }
        if (argc < 3 || argc > 5) {
                fprintf(stderr, "usage: %s VARIANT PATH [f32|f16|bf16|q8_0|q4_0 [SEED]]\nvariants:\n", argv[0]);
                for (size_t i = 0; tiny_model_variants[i]; i++)
                        fprintf(stderr, "  %s\n", tiny_model_variants[i]);
                for (size_t i = 0; tiny_model_bench_variants[i]; i++)
                        fprintf(stderr, "  %s (real layer shapes, for benchmarks)\n", tiny_model_bench_variants[i]);
                return 2;
        }
        if (tiny_model_variant(argv[1], &o) < 0) {
                fprintf(stderr, "unknown variant '%s'\n", argv[1]);
                return 2;
        }
        if (argc >= 4) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(types); i++)
                        if (strcasecmp(argv[3], types[i].name) == 0)
                                break;
                if (i == ELEMENTSOF(types)) {
                        fprintf(stderr, "unknown type '%s'\n", argv[3]);
                        return 2;
                }
                o.type = types[i].type;
        }
        if (argc == 5)
                o.seed = strtoull(argv[4], NULL, 0);
        if (tmpl) {
                o.chat_template = tmpl;
                if (o.n_vocab < 264)
                        o.n_vocab = 264;
        }
        if (tiny_model_save(&o, argv[2], &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
        }
        return 0;
}
