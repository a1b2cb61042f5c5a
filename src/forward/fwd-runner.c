/* The Vulkan runner: creation (budget check, weights, cache, activations),
 * sequences over the paged cache, and the step: fill the per-step inputs,
 * record, one submission, copy the logits out. */
#include "forward/fwd-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_TOKENS 256u
#define LOGITS_ROWS_MIN 64u
#define MIB (1024.0 * 1024.0)

static struct fwd *fwd_of(struct runner *r) {
        return (struct fwd *) r;
}

/* Where the host writes a view of the step-input buffer. */
static void *in_map(struct fwd *f, struct vk_view v) {
        return (uint8_t *) f->a.in->map + (v.offset - f->a.in->view.offset);
}

static int runner_seq_open(struct runner *r, uint32_t n_tokens, uint32_t *ret_seq, struct vkinfer_err *err) {
        struct fwd *f = fwd_of(r);
        uint32_t seq;
        if (n_tokens > f->runner.n_ctx)
                return err_set(err, -EINVAL, "a sequence of %u tokens: the context holds %u", n_tokens, f->runner.n_ctx);
        int k = kv_seq_open(f->kv, n_tokens, &seq, err);
        if (k < 0)
                return k;
        /* the GPU's copy of the block table */
        uint32_t *table = (uint32_t *) f->a.table->map + (size_t) seq * f->max_blocks;
        memcpy(table, kv_block_table(f->kv, seq), (size_t) f->max_blocks * sizeof(uint32_t));
        *ret_seq = seq;
        return 0;
}

static void runner_seq_close(struct runner *r, uint32_t seq) {
        kv_seq_close(fwd_of(r)->kv, seq);
}

static int runner_step(struct runner *r, const struct runner_item *items, size_t n_items, float *logits,
                   struct vkinfer_err *err) {
        struct fwd *f = fwd_of(r);
        const uint32_t n_vocab = f->m->hp.n_vocab;
        uint64_t T = 0, L = 0;
        int k;

        for (size_t i = 0; i < n_items; i++) {
                const struct runner_item *it = &items[i];
                if (!kv_seq_is_open(f->kv, it->seq))
                        return err_set(err, -EINVAL, "item %zu: sequence %u is not open", i, it->seq);
                if (it->n_tokens == 0 || !it->tokens)
                        return err_set(err, -EINVAL, "item %zu: no tokens", i);
                if ((uint64_t) it->pos + it->n_tokens > kv_seq_capacity(f->kv, it->seq) ||
                    (uint64_t) it->pos + it->n_tokens > f->runner.n_ctx)
                        return err_set(err, -EINVAL, "item %zu: positions %u..%llu exceed the %u its sequence holds", i,
                                       it->pos, (unsigned long long) it->pos + it->n_tokens - 1,
                                       kv_seq_capacity(f->kv, it->seq) < f->runner.n_ctx ? kv_seq_capacity(f->kv, it->seq)
                                                                                         : f->runner.n_ctx);
                for (uint32_t t = 0; t < it->n_tokens; t++)
                        if (it->tokens[t] < 0 || (uint32_t) it->tokens[t] >= n_vocab)
                                return err_set(err, -EINVAL, "item %zu: token %d is outside the vocabulary of %u", i,
                                               it->tokens[t], n_vocab);
                T += it->n_tokens;
                L += it->want_logits ? (it->all_logits ? it->n_tokens : 1) : 0;
        }
        if (T == 0)
                return 0;
        if (L && !logits)
                return err_set(err, -EINVAL, "items want logits but there is nowhere to put them");
        if (T > f->runner.max_tokens)
                return err_set(err, -E2BIG, "a step of %llu tokens: at most %u", (unsigned long long) T,
                               f->runner.max_tokens);
        if (L > f->max_logits)
                return err_set(err, -E2BIG, "%llu items want logits: at most %u per step", (unsigned long long) L,
                               f->max_logits);

        int32_t *tok = in_map(f, f->a.in_tokens), *pos = in_map(f, f->a.in_pos);
        uint32_t *sq = in_map(f, f->a.in_seq), *rows = in_map(f, f->a.in_rows), *lrows = in_map(f, f->a.in_lrows);
        uint32_t t = 0, l = 0;
        for (size_t i = 0; i < n_items; i++) {
                const struct runner_item *it = &items[i];
                for (uint32_t j = 0; j < it->n_tokens; j++, t++) {
                        tok[t] = it->tokens[j];
                        pos[t] = (int32_t) (it->pos + j);
                        sq[t] = it->seq;
                        rows[t] = kv_row(f->kv, it->seq, it->pos + j);
                        if (it->want_logits && it->all_logits)
                                lrows[l++] = t;
                }
                if (it->want_logits && !it->all_logits)
                        lrows[l++] = t - 1;
        }
        /* Everything a step reads that changes from step to step is in the
         * host-visible inputs and tables; the recording depends only on the
         * shape, so a step shaped like the last (decode) replays it. */
        if (f->rec_tokens != T || f->rec_logits != L) {
                f->rec_tokens = 0;
                if ((k = fwd_record(f, (uint32_t) T, (uint32_t) L, err)) < 0)
                        return k;
                f->rec_tokens = (uint32_t) T;
                f->rec_logits = (uint32_t) L;
        }
        if ((k = vk_seq_run(f->seq, err)) < 0)
                return k;
        if (L)
                memcpy(logits, f->a.logits->map, (size_t) L * n_vocab * sizeof(float));
        return 0;
}

static void runner_kv_usage(struct runner *r, uint64_t *ret_used, uint64_t *ret_total) {
        kv_usage(fwd_of(r)->kv, ret_used, ret_total);
}

static const char *runner_device(struct runner *r) {
        return fwd_of(r)->device_name;
}

static void runner_destroy(struct runner *r) {
        struct fwd *f = fwd_of(r);
        if (!f)
                return;
        vk_seq_destroy(f->seq);
        if (f->layers)
                for (uint32_t il = 0; il < f->m->hp.n_layer; il++)
                        vk_buf_free(f->ctx, f->layers[il].cache);
        free(f->layers);
        fwd_free_activations(f);
        fwd_free_weights(f);
        kv_pool_free(f->kv);
        free(f);
}

static const struct runner_ops vk_ops = {
        .seq_open = runner_seq_open,
        .seq_close = runner_seq_close,
        .step = runner_step,
        .kv_usage = runner_kv_usage,
        .device_name = runner_device,
        .destroy = runner_destroy,
};

/* ---- Sizing ---- */

struct sizing {
        uint32_t max_tokens, max_logits, max_blocks, n_blocks, row_width, kv_value_bytes;
        uint64_t weights, kv, act;
};

static int size_runner(struct vk_ctx *ctx, const struct model *m, uint32_t n_ctx, uint32_t max_seqs,
                       const struct runner_vk_opts *opts, struct sizing *z, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        uint64_t range = vk_ctx_max_range(ctx);
        int r;
        if (n_ctx == 0 || max_seqs == 0)
                return err_set(err, -EINVAL, "n_ctx %u, max_seqs %u: neither may be 0", n_ctx, max_seqs);
        memset(z, 0, sizeof(*z));
        /* what the kernels hold: refuse at load, not at the first step */
        uint32_t dk = hp->arch == MODEL_ARCH_DEEPSEEK2 ? hp->kv_lora_rank + hp->qk_rope : hp->head_dim_k;
        uint32_t dv = hp->arch == MODEL_ARCH_DEEPSEEK2 ? hp->kv_lora_rank : hp->head_dim_v;
        if (dk > ATTN_MAX_DK || dv > ATTN_MAX_DV_PER_INV * ATTN_WG)
                return err_set(err, -EOPNOTSUPP, "attention keys of %u and values of %u per head: the kernel holds %u and %u",
                               dk, dv, ATTN_MAX_DK, ATTN_MAX_DV_PER_INV * ATTN_WG);
        if (hp->n_layer > hp->n_layer_dense_lead && hp->n_expert &&
            (hp->n_expert > MOE_MAX_EXPERT || hp->n_expert_used > MOE_MAX_USED))
                return err_set(err, -EOPNOTSUPP, "%u experts, %u used per token: the routing kernel holds %u and %u",
                               hp->n_expert, hp->n_expert_used, MOE_MAX_EXPERT, MOE_MAX_USED);
        if ((r = fwd_weights_bytes(m, &z->weights, err)) < 0)
                return r;

        enum runner_kv_type kv = opts ? opts->kv_type : RUNNER_KV_AUTO;
        bool storage16 = vk_ctx_info(ctx)->storage16;
        if (kv == RUNNER_KV_F16 && !storage16)
                return err_set(err, -EOPNOTSUPP, "an f16 KV cache needs storageBuffer16BitAccess, which %s lacks: "
                               "use f32", vk_ctx_info(ctx)->name);
        z->kv_value_bytes = kv == RUNNER_KV_F32 || (kv == RUNNER_KV_AUTO && !storage16) ? 4 : 2;
        z->row_width = hp->arch == MODEL_ARCH_DEEPSEEK2 ? hp->kv_lora_rank + hp->qk_rope
                                                         : hp->n_head_kv * (hp->head_dim_k + hp->head_dim_v);
        z->max_blocks = (n_ctx + KV_BLOCK_TOKENS - 1) / KV_BLOCK_TOKENS;
        uint64_t n_blocks = (uint64_t) z->max_blocks * max_seqs;
        if (opts && opts->kv_tokens && (opts->kv_tokens + KV_BLOCK_TOKENS - 1) / KV_BLOCK_TOKENS < n_blocks)
                n_blocks = (opts->kv_tokens + KV_BLOCK_TOKENS - 1) / KV_BLOCK_TOKENS;
        uint64_t layer_bytes = n_blocks * KV_BLOCK_TOKENS * z->row_width * z->kv_value_bytes;
        if (layer_bytes > range || n_blocks * KV_BLOCK_TOKENS > UINT32_MAX)
                return err_set(err, -E2BIG, "a KV cache of %u sequences x %u positions takes %.2f MiB per layer, over "
                               "the device's %.2f MiB storage-buffer range: lower the context or the sequences",
                               max_seqs, n_ctx, layer_bytes / MIB, range / MIB);
        z->n_blocks = (uint32_t) n_blocks;
        z->kv = layer_bytes * hp->n_layer;

        uint64_t want = opts && opts->max_tokens ? opts->max_tokens : DEFAULT_MAX_TOKENS;
        if (want > (uint64_t) n_ctx * max_seqs)
                want = (uint64_t) n_ctx * max_seqs;
        /* one row per sequence, or more for several items of one sequence
         * (perplexity); the loop below keeps it <= max_tokens */
        z->max_logits = max_seqs > LOGITS_ROWS_MIN ? max_seqs : LOGITS_ROWS_MIN;
        /* fewer tokens per step until every activation buffer fits a binding */
        for (z->max_tokens = (uint32_t) want;; z->max_tokens /= 2) {
                uint64_t bytes, largest;
                if (z->max_logits > z->max_tokens)
                        z->max_logits = z->max_tokens;
                if ((r = fwd_activations(NULL, m, z->max_tokens, z->max_logits, &bytes, &largest, err)) < 0)
                        return r;
                if (largest <= range || z->max_tokens == 1) {
                        z->act = bytes + (uint64_t) max_seqs * z->max_blocks * 4;
                        break;
                }
        }
        return 0;
}

int runner_vk_estimate(struct vk_ctx *ctx, const struct model *m, uint32_t n_ctx, uint32_t max_seqs,
                       const struct runner_vk_opts *opts, uint64_t *ret_weights, uint64_t *ret_kv, uint64_t *ret_act,
                       struct vkinfer_err *err) {
        struct sizing z;
        int r = size_runner(ctx, m, n_ctx, max_seqs, opts, &z, err);
        if (r < 0)
                return r;
        *ret_weights = z.weights;
        *ret_kv = z.kv;
        *ret_act = z.act;
        return 0;
}

/* Device-local memory free now: the budget minus the usage where the
 * driver reports them, else the heaps' sizes. */
static uint64_t device_free(const struct vk_device_info *info) {
        uint64_t free_ = 0;
        for (uint32_t i = 0; i < info->n_heaps; i++) {
                if (!info->heaps[i].device_local)
                        continue;
                if (info->memory_budget && info->heaps[i].budget)
                        free_ += info->heaps[i].budget > info->heaps[i].usage ? info->heaps[i].budget - info->heaps[i].usage : 0;
                else
                        free_ += info->heaps[i].size;
        }
        return free_;
}

int runner_vk_new_opts(struct vk_ctx *ctx, const struct model *m, uint32_t n_ctx, uint32_t max_seqs,
                       const struct runner_vk_opts *opts, struct runner **ret, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const struct vk_device_info *info = vk_ctx_info(ctx);
        struct sizing z;
        int r;

        if ((r = size_runner(ctx, m, n_ctx, max_seqs, opts, &z, err)) < 0)
                return r;
        uint64_t need = z.weights + z.kv + z.act;
        uint64_t avail = opts && opts->device_memory ? opts->device_memory : device_free(info);
        if (need > avail)
                return err_set(err, -ENOMEM, "the model needs %.0f MiB of device memory (weights %.0f, KV cache %.0f, "
                               "activations %.0f), %.0f MiB free on %s", need / MIB, z.weights / MIB, z.kv / MIB,
                               z.act / MIB, avail / MIB, info->name);

        struct fwd *f = calloc(1, sizeof(*f));
        if (!f)
                return err_set(err, -ENOMEM, "out of memory");
        f->runner.ops = &vk_ops;
        f->runner.n_vocab = hp->n_vocab;
        f->runner.n_ctx = n_ctx;
        f->runner.max_tokens = z.max_tokens;
        f->ctx = ctx;
        f->m = m;
        snprintf(f->device_name, sizeof(f->device_name), "%s", info->name);
        f->max_seqs = max_seqs;
        f->max_logits = z.max_logits;
        f->runner.max_logit_rows = z.max_logits;
        f->max_blocks = z.max_blocks;
        f->n_blocks = z.n_blocks;
        f->row_width = z.row_width;
        f->kv_f16 = z.kv_value_bytes == 2;
        f->runner.kv_value_bytes = z.kv_value_bytes;
        f->layers = calloc(hp->n_layer ? hp->n_layer : 1, sizeof(*f->layers));
        uint64_t act_bytes;
        if (!f->layers) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        if ((r = fwd_upload_weights(f, opts, err)) < 0 ||
            (r = fwd_activations(f, m, z.max_tokens, z.max_logits, &act_bytes, NULL, err)) < 0 ||
            (r = vk_buf_alloc(ctx, VK_MEM_HOST, (uint64_t) max_seqs * z.max_blocks * 4, &f->a.table, err)) < 0 ||
            (r = kv_pool_new(z.n_blocks, max_seqs, z.max_blocks, &f->kv, err)) < 0 ||
            (r = vk_seq_create(ctx, &f->seq, err)) < 0)
                goto fail;
        memset(f->a.table->map, 0, (size_t) max_seqs * z.max_blocks * 4);
        for (uint32_t il = 0; il < hp->n_layer; il++)
                if ((r = vk_buf_alloc(ctx, VK_MEM_DEVICE, (uint64_t) z.n_blocks * KV_BLOCK_TOKENS * z.row_width * z.kv_value_bytes,
                                      &f->layers[il].cache, err)) < 0)
                        goto fail;
        *ret = &f->runner;
        return 0;
fail:
        runner_destroy(&f->runner);
        return r;
}

int runner_vk_new(struct vk_ctx *ctx, const struct model *m, uint32_t n_ctx, uint32_t max_seqs, struct runner **ret,
                  struct vkinfer_err *err) {
        return runner_vk_new_opts(ctx, m, n_ctx, max_seqs, NULL, ret, err);
}

void runner_vk_step_counts(const struct runner *rn, uint32_t *ret_dispatches, uint32_t *ret_barriers) {
        const struct fwd *f = (const struct fwd *) rn;
        *ret_dispatches = vk_seq_n_dispatches(f->seq);
        *ret_barriers = vk_seq_n_barriers(f->seq);
}
