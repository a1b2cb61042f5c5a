/* Picks the runner for a device name: the CPU reference, or the Vulkan
 * forward pass on a device context of its own. Each Vulkan runner owns its
 * context (its own VkDevice and queue) because runners are built on one
 * thread (the daemon's, also during a reload) while the scheduler thread
 * steps the others: nothing is shared between them to synchronise. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "forward/forward.h"
#include "sched/runner.h"

struct runner_owner {
        struct runner base;
        struct runner *inner;
        struct vk_ctx *ctx;
        unsigned long lose_at; /* VKINFER_TEST_DEVICE_LOST (read at open); 0: never */
        bool lost;             /* it struck: every step fails, as on a real lost device */
};

static struct runner_owner *owner_of(struct runner *r) {
        return (struct runner_owner *) r;
}

static int own_seq_open(struct runner *r, uint32_t n_tokens, uint32_t *ret_seq, struct vkinfer_err *err) {
        struct runner *in = owner_of(r)->inner;
        return in->ops->seq_open(in, n_tokens, ret_seq, err);
}

static void own_seq_close(struct runner *r, uint32_t seq) {
        struct runner *in = owner_of(r)->inner;
        in->ops->seq_close(in, seq);
}

/* VKINFER_TEST_DEVICE_LOST=N: from the Nth Vulkan step of the process on,
 * that runner fails every step as a lost device does (-EIO), so tests can
 * check what survives one; a runner opened afterwards works. */
static atomic_uint steps_taken;

static int own_step(struct runner *r, const struct runner_item *items, size_t n_items, float *logits,
                    struct vkinfer_err *err) {
        struct runner *in = owner_of(r)->inner;
        struct runner_owner *o = owner_of(r);
        if (o->lose_at && atomic_fetch_add(&steps_taken, 1) + 1 == o->lose_at)
                o->lost = true;
        if (o->lost)
                return err_set(err, -EIO, "VK_ERROR_DEVICE_LOST (simulated by VKINFER_TEST_DEVICE_LOST)");
        return in->ops->step(in, items, n_items, logits, err);
}

static void own_kv_usage(struct runner *r, uint64_t *ret_used, uint64_t *ret_total) {
        struct runner *in = owner_of(r)->inner;
        in->ops->kv_usage(in, ret_used, ret_total);
}

static const char *own_device_name(struct runner *r) {
        struct runner *in = owner_of(r)->inner;
        return in->ops->device_name(in);
}

static uint64_t own_validation_messages(struct runner *r) {
        return vk_ctx_validation_count(owner_of(r)->ctx);
}

static void own_destroy(struct runner *r) {
        struct runner_owner *o = owner_of(r);
        if (o->inner)
                o->inner->ops->destroy(o->inner);
        vk_ctx_destroy(o->ctx);
        free(o);
}

static const struct runner_ops owner_ops = {
        .seq_open = own_seq_open,
        .seq_close = own_seq_close,
        .step = own_step,
        .kv_usage = own_kv_usage,
        .device_name = own_device_name,
        .validation_messages = own_validation_messages,
        .destroy = own_destroy,
};

int runner_kv_type_parse(const char *s, enum runner_kv_type *ret) {
        if (!s || !*s || strcmp(s, "auto") == 0)
                *ret = RUNNER_KV_AUTO;
        else if (strcmp(s, "f16") == 0)
                *ret = RUNNER_KV_F16;
        else if (strcmp(s, "f32") == 0)
                *ret = RUNNER_KV_F32;
        else
                return -EINVAL;
        return 0;
}

int runner_open(const char *device, enum runner_kv_type kv, const struct model *m, uint32_t n_ctx, uint32_t max_seqs,
                struct runner **ret, struct vkinfer_err *err) {
        return runner_open_progress(device, NULL, kv, m, n_ctx, max_seqs, NULL, NULL, ret, err);
}

int runner_open_progress(const char *device, const char *cache_dir, enum runner_kv_type kv, const struct model *m, uint32_t n_ctx, uint32_t max_seqs,
                         void (*progress)(void *userdata, uint64_t done, uint64_t total), void *userdata,
                         struct runner **ret, struct vkinfer_err *err) {
        /* VKINFER_DEVICE overrides the option for Vulkan devices (vk-device.c);
         * it may name the CPU reference too. */
        const char *env = getenv("VKINFER_DEVICE");
        if ((env && strcmp(env, "cpu-reference") == 0) || (!(env && *env) && device && strcmp(device, "cpu-reference") == 0))
                return runner_cpu_new(m, n_ctx, max_seqs, ret, err);
        struct runner_owner *o = calloc(1, sizeof(*o));
        if (!o)
                return err_set(err, -ENOMEM, "out of memory");
        const char *lose = getenv("VKINFER_TEST_DEVICE_LOST");
        o->lose_at = lose ? strtoul(lose, NULL, 10) : 0;
        struct vk_opts vo = {.device = device, .cache_dir = cache_dir};
        int r = vk_ctx_create(&vo, &o->ctx, err);
        if (r >= 0)
                r = runner_vk_new_opts(o->ctx, m, n_ctx, max_seqs,
                                       &(struct runner_vk_opts){.progress = progress, .progress_data = userdata, .kv_type = kv},
                                       &o->inner, err);
        if (r < 0) {
                own_destroy(&o->base);
                return r;
        }
        o->base = *o->inner;
        o->base.ops = &owner_ops;
        *ret = &o->base;
        return 0;
}

int runner_logits_all(struct runner *r, const int32_t *tokens, uint32_t n, float *logits, struct vkinfer_err *err) {
        uint32_t seq;
        int ret = r->ops->seq_open(r, n, &seq, err);
        if (ret < 0)
                return ret;
        uint32_t piece = r->max_tokens < r->max_logit_rows ? r->max_tokens : r->max_logit_rows;
        for (uint32_t done = 0; done < n && ret >= 0; done += piece) {
                uint32_t k = n - done < piece ? n - done : piece;
                struct runner_item it = {seq, tokens + done, k, done, true, true};
                ret = r->ops->step(r, &it, 1, logits + (size_t) done * r->n_vocab, err);
        }
        r->ops->seq_close(r, seq);
        return ret;
}
