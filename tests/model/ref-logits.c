/* Runs the CPU reference on any GGUF model over token ids and prints the
 * model's summary and the best logits of each position, for comparing with
 * other implementations by hand (no tokenizer involved):
 *   ref-logits [--expanded] [--top N] MODEL.gguf TOKEN_ID...
 * Slow on real models: a plain C matrix-vector product per weight. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ref.h"

int main(int argc, char **argv) {
        enum ref_mla_form form = REF_MLA_ABSORBED;
        int top = 5, i = 1;
        for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
                if (strcmp(argv[i], "--expanded") == 0)
                        form = REF_MLA_EXPANDED;
                else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc)
                        top = atoi(argv[++i]);
                else
                        break;
        }
        if (argc - i < 2 || top < 1) {
                fprintf(stderr, "usage: %s [--expanded] [--top N] MODEL.gguf TOKEN_ID...\n", argv[0]);
                return 2;
        }
        const char *path = argv[i++];
        const size_t n = (size_t) (argc - i);
        int32_t *tokens = calloc(n, sizeof(int32_t));
        if (!tokens)
                return 1;
        for (size_t t = 0; t < n; t++)
                tokens[t] = (int32_t) strtol(argv[i + t], NULL, 0);

        struct vkinfer_err err = {0};
        struct gguf_file *f = NULL;
        struct model *m = NULL;
        struct ref_state *s = NULL;
        float *logits = NULL;
        int r = gguf_open(path, &f, &err);
        if (r >= 0)
                r = model_load(f, &m, &err);
        if (r >= 0) {
                char desc[4096];
                model_describe(m, desc, sizeof(desc));
                fputs(desc, stdout);
                if (!(logits = calloc(n * m->hp.n_vocab, sizeof(float))))
                        r = err_set(&err, -ENOMEM, "out of memory");
        }
        if (r >= 0)
                r = ref_state_new(m, (uint32_t) n, form, &s, &err);
        if (r >= 0)
                r = ref_forward(m, tokens, n, 0, s, logits, &err);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, err.msg);
        } else {
                const uint32_t n_vocab = m->hp.n_vocab;
                for (size_t t = 0; t < n; t++) {
                        const float *l = logits + t * n_vocab;
                        printf("pos %zu (token %d):", t, tokens[t]);
                        /* selection of the top N, best first */
                        uint32_t picked[64];
                        const int k_max = top < 64 && (uint32_t) top < n_vocab ? top : (n_vocab < 64 ? (int) n_vocab : 64);
                        for (int k = 0; k < k_max; k++) {
                                int64_t best = -1;
                                for (uint32_t v = 0; v < n_vocab; v++) {
                                        bool seen = false;
                                        for (int j = 0; j < k; j++)
                                                seen = seen || picked[j] == v;
                                        if (!seen && (best < 0 || l[v] > l[best]))
                                                best = v;
                                }
                                picked[k] = (uint32_t) best;
                                printf(" %u=%.5f", picked[k], (double) l[best]);
                        }
                        printf("\n");
                }
        }
        ref_state_free(s);
        model_free(m);
        gguf_close(f);
        free(logits);
        free(tokens);
        return r < 0;
}
