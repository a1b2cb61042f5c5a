/* runner_vk_decode_bytes against a count over the model's tensor list:
 * everything once, the embedding table one row, routed experts k of n. */
#include <string.h>

#include "forward/forward.h"
#include "harness.h"
#include "tiny-models.h"

static void check(const char *variant) {
        struct tiny_model_opts o;
        struct tiny_model tm;
        struct vkinfer_err err;
        if (tiny_model_variant(variant, &o) < 0 || tiny_model_load(&o, &tm, &err) < 0) {
                CHECK(0, "%s: cannot load", variant);
                return;
        }
        const struct model *m = tm.model;
        const struct model_hparams *hp = &m->hp;
        uint64_t want = 0;
        for (size_t i = 0; i < m->n_tensors; i++) {
                const struct gguf_tensor *t = m->tensors[i];
                uint32_t layer;
                if (sscanf(t->name, "blk.%u.", &layer) == 1 && layer >= hp->n_layer)
                        continue; /* NextN layers are not run */
                if (t == m->tok_embd && t != m->output)
                        want += t->n_bytes / t->ne[1];
                else if (t == m->tok_embd)
                        want += t->n_bytes + t->n_bytes / t->ne[1]; /* tied: the head reads it all, and one row */
                else if (strstr(t->name, "_exps."))
                        want += t->n_bytes / hp->n_expert * hp->n_expert_used;
                else
                        want += t->n_bytes;
        }
        uint64_t w, kv;
        runner_vk_decode_bytes(m, 10, 4, &w, &kv);
        CHECK(w == want, "%s: weights %llu, counted %llu", variant, (unsigned long long) w, (unsigned long long) want);
        uint64_t row = hp->arch == MODEL_ARCH_DEEPSEEK2 ? o.kv_lora_rank + o.qk_rope
                                                         : (uint64_t) o.n_head_kv * o.head_dim * 2;
        CHECK(kv == hp->n_layer * 10 * row * 4, "%s: kv %llu", variant, (unsigned long long) kv);
        tiny_model_unload(&tm);
}

int main(void) {
        for (size_t i = 0; tiny_model_variants[i]; i++)
                check(tiny_model_variants[i]);
        return test_exit("fwd-bytes");
}
