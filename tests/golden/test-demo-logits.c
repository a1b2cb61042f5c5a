/* The demo model's logits at every position of the stored prompts against
 * the PyTorch float64 forward of the same (Q8_0-dequantized) weights, through
 * the runner the device selects: the Vulkan forward, or with
 * VKINFER_TEST_DEVICE=cpu-reference the CPU reference.
 * usage: test-demo-logits MODEL.gguf LOGITS.json (LOGITS.bin beside it) */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "harness.h"
#include "model/model.h"
#include "sched/runner.h"

/* The weights are the same on both sides: what differs is float32 on the
 * device against float64, so the bound is tight. */
#define DEMO_LOGITS_MAX_REL_L2 1e-3

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: %s MODEL.gguf LOGITS.json\n", argv[0]);
                return 2;
        }
        struct vkinfer_err err = {{0}};
        json_error_t jerr;
        json_t *index = json_load_file(argv[2], 0, &jerr);
        if (!index) {
                fprintf(stderr, "%s: %s\n", argv[2], jerr.text);
                return 1;
        }
        char bin_path[4096];
        snprintf(bin_path, sizeof(bin_path), "%.*s/%s", (int) (strrchr(argv[2], '/') - argv[2]), argv[2],
                 json_string_value(json_object_get(index, "file")));
        char *bin = NULL;
        size_t bin_size = 0;
        struct gguf_file *f = NULL;
        struct model *m = NULL;
        struct runner *run = NULL;
        int r = read_file(bin_path, &bin, &bin_size, &err);
        if (r >= 0)
                r = gguf_open(argv[1], &f, &err);
        if (r >= 0)
                r = model_load(f, &m, &err);
        const char *device = getenv("VKINFER_TEST_DEVICE");
        if (r >= 0)
                r = runner_open(device, RUNNER_KV_AUTO, m, 256, 1, &run, &err);
        if (r == -ENODEV) {
                fprintf(stderr, "no Vulkan device: %s\n", err.msg);
                return TEST_SKIP;
        }
        CHECK_OK(r, err);
        if (r < 0)
                return test_exit("demo-logits");
        size_t n_vocab = (size_t) json_integer_value(json_object_get(index, "vocab_size"));
        CHECK(n_vocab == run->n_vocab, "vocabulary %zu vs %u", n_vocab, run->n_vocab);

        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(index, "prompts"), i, p) {
                json_t *ids_j = json_object_get(p, "ids");
                size_t n = json_array_size(ids_j);
                int32_t *ids = malloc(n * sizeof(*ids));
                float *got = malloc(n * n_vocab * sizeof(float));
                for (size_t k = 0; k < n; k++)
                        ids[k] = (int32_t) json_integer_value(json_array_get(ids_j, k));
                const float *want = (const float *) (bin + json_integer_value(json_object_get(p, "offset_bytes")));
                r = runner_logits_all(run, ids, (uint32_t) n, got, &err);
                CHECK_OK(r, err);
                if (r >= 0) {
                        double worst = 0;
                        size_t argmax_diff = 0;
                        for (size_t t = 0; t < n; t++) {
                                double e = rel_l2(got + t * n_vocab, want + t * n_vocab, n_vocab);
                                worst = e > worst ? e : worst;
                                size_t a = 0, b = 0;
                                for (size_t v = 1; v < n_vocab; v++) {
                                        if (got[t * n_vocab + v] > got[t * n_vocab + a])
                                                a = v;
                                        if (want[t * n_vocab + v] > want[t * n_vocab + b])
                                                b = v;
                                }
                                argmax_diff += a != b;
                        }
                        fprintf(stderr, "%s: %zu tokens, worst relative L2 %.3g, %zu argmax differences\n",
                                json_string_value(json_object_get(p, "name")), n, worst, argmax_diff);
                        CHECK(worst < DEMO_LOGITS_MAX_REL_L2, "%s: relative L2 %.3g over %.0e",
                              json_string_value(json_object_get(p, "name")), worst, DEMO_LOGITS_MAX_REL_L2);
                        CHECK(argmax_diff == 0, "%zu argmax differences", argmax_diff);
                }
                free(ids);
                free(got);
        }
        if (run && run->ops->validation_messages)
                CHECK(run->ops->validation_messages(run) == 0, "%llu Vulkan validation messages",
                      (unsigned long long) run->ops->validation_messages(run));
        if (run)
                run->ops->destroy(run);
        model_free(m);
        gguf_close(f);
        free(bin);
        json_decref(index);
        return test_exit("demo-logits");
}
