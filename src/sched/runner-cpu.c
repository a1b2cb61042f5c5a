/* The CPU reference forward as a runner: one ref_state per sequence. Slow,
 * exact, and obviously batch-invariant: items are computed one by one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/ref.h"
#include "sched/runner.h"

#define CPU_BLOCK_TOKENS 16 /* only for the usage figures */

struct runner_cpu {
        struct runner base;
        const struct model *m;
        struct ref_state **seqs; /* max_seqs slots, NULL when free */
        uint32_t *seq_tokens;    /* tokens reserved per slot */
        uint32_t max_seqs;
        float *scratch;          /* n_tokens × n_vocab logits of one item */
        uint32_t scratch_tokens;
};

static int cpu_seq_open(struct runner *r, uint32_t n_tokens, uint32_t *ret_seq, struct vkinfer_err *err) {
        struct runner_cpu *c = (struct runner_cpu *) r;
        if (n_tokens > r->n_ctx)
                return err_set(err, -E2BIG, "%u tokens do not fit the context of %u", n_tokens, r->n_ctx);
        for (uint32_t i = 0; i < c->max_seqs; i++)
                if (!c->seqs[i]) {
                        int ret = ref_state_new(c->m, r->n_ctx, REF_MLA_ABSORBED, &c->seqs[i], err);
                        if (ret < 0)
                                return ret;
                        c->seq_tokens[i] = n_tokens;
                        *ret_seq = i;
                        return 0;
                }
        return -ENOSPC;
}

static void cpu_seq_close(struct runner *r, uint32_t seq) {
        struct runner_cpu *c = (struct runner_cpu *) r;
        if (seq < c->max_seqs) {
                c->seqs[seq] = ref_state_free(c->seqs[seq]);
                c->seq_tokens[seq] = 0;
        }
}

static int cpu_step(struct runner *r, const struct runner_item *items, size_t n_items, float *logits,
                    struct vkinfer_err *err) {
        struct runner_cpu *c = (struct runner_cpu *) r;
        size_t row = 0;
        for (size_t i = 0; i < n_items; i++) {
                const struct runner_item *it = &items[i];
                if (it->seq >= c->max_seqs || !c->seqs[it->seq])
                        return err_set(err, -EINVAL, "sequence %u is not open", it->seq);
                if (it->n_tokens > c->scratch_tokens) {
                        float *s = realloc(c->scratch, (size_t) it->n_tokens * r->n_vocab * sizeof(float));
                        if (!s)
                                return err_set(err, -ENOMEM, "out of memory for logits");
                        c->scratch = s;
                        c->scratch_tokens = it->n_tokens;
                }
                int ret = ref_forward(c->m, it->tokens, it->n_tokens, it->pos, c->seqs[it->seq], c->scratch, err);
                if (ret < 0)
                        return ret;
                if (it->want_logits && it->all_logits) {
                        memcpy(logits + row * r->n_vocab, c->scratch, (size_t) it->n_tokens * r->n_vocab * sizeof(float));
                        row += it->n_tokens;
                } else if (it->want_logits) {
                        memcpy(logits + row++ * r->n_vocab, c->scratch + (size_t) (it->n_tokens - 1) * r->n_vocab,
                               r->n_vocab * sizeof(float));
                }
        }
        return 0;
}

static void cpu_kv_usage(struct runner *r, uint64_t *ret_used, uint64_t *ret_total) {
        struct runner_cpu *c = (struct runner_cpu *) r;
        uint64_t used = 0;
        for (uint32_t i = 0; i < c->max_seqs; i++)
                used += (c->seq_tokens[i] + CPU_BLOCK_TOKENS - 1) / CPU_BLOCK_TOKENS;
        *ret_used = used;
        *ret_total = (uint64_t) c->max_seqs * ((r->n_ctx + CPU_BLOCK_TOKENS - 1) / CPU_BLOCK_TOKENS);
}

static const char *cpu_device_name(struct runner *r) {
        return "CPU reference";
}

static void cpu_destroy(struct runner *r) {
        struct runner_cpu *c = (struct runner_cpu *) r;
        if (!c)
                return;
        for (uint32_t i = 0; i < c->max_seqs; i++)
                ref_state_free(c->seqs[i]);
        free(c->seqs);
        free(c->seq_tokens);
        free(c->scratch);
        free(c);
}

static const struct runner_ops cpu_ops = {
        .seq_open = cpu_seq_open,
        .seq_close = cpu_seq_close,
        .step = cpu_step,
        .kv_usage = cpu_kv_usage,
        .device_name = cpu_device_name,
        .destroy = cpu_destroy,
};

int runner_cpu_new(const struct model *m, uint32_t n_ctx, uint32_t max_seqs, struct runner **ret,
                   struct vkinfer_err *err) {
        struct runner_cpu *c = calloc(1, sizeof(*c));
        if (!c)
                return err_set(err, -ENOMEM, "out of memory");
        c->m = m;
        c->max_seqs = max_seqs;
        c->seqs = calloc(max_seqs, sizeof(*c->seqs));
        c->seq_tokens = calloc(max_seqs, sizeof(*c->seq_tokens));
        if (!c->seqs || !c->seq_tokens) {
                cpu_destroy(&c->base);
                return err_set(err, -ENOMEM, "out of memory");
        }
        c->base = (struct runner){.ops = &cpu_ops, .kv_value_bytes = 4, .n_vocab = m->hp.n_vocab, .n_ctx = n_ctx, .max_tokens = 4096,
                                  .max_logit_rows = 4096};
        *ret = &c->base;
        return 0;
}

size_t runner_logit_rows(const struct runner_item *items, size_t n_items) {
        size_t rows = 0;
        for (size_t i = 0; i < n_items; i++)
                if (items[i].want_logits)
                        rows += items[i].all_logits ? items[i].n_tokens : 1;
        return rows;
}
