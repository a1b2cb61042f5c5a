/* Per-kernel GPU time (VKINFER_PROFILE=1): each sequence writes a timestamp
 * after every dispatch; since a full barrier separates dispatches, the
 * difference between consecutive timestamps is that dispatch's time. The
 * totals, per shader, are printed to stderr when the context is destroyed
 * (or by vk_ctx_profile_print). Off by default: it costs a query per
 * dispatch and a readback per submission. */
#include "vk/vk-internal.h"

#include <stdlib.h>
#include <string.h>

void vk_profile_init(struct vk_ctx *ctx) {
        const char *env = getenv("VKINFER_PROFILE");
        if (!env || strcmp(env, "1") != 0)
                return;
        uint32_t n = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(ctx->phys, &n, NULL);
        VkQueueFamilyProperties *qf = calloc(n ? n : 1, sizeof(*qf));
        if (!qf)
                return;
        vkGetPhysicalDeviceQueueFamilyProperties(ctx->phys, &n, qf);
        VkPhysicalDeviceProperties props;
        vkGetPhysicalDeviceProperties(ctx->phys, &props);
        ctx->profile.on = ctx->queue_family < n && qf[ctx->queue_family].timestampValidBits > 0;
        ctx->profile.period_ns = props.limits.timestampPeriod;
        free(qf);
        if (!ctx->profile.on)
                fprintf(stderr, "vkinfer: VKINFER_PROFILE: the device's queue has no timestamps\n");
}

void vk_profile_add(struct vk_ctx *ctx, const char *shader, double ns) {
        struct vk_profile *p = &ctx->profile;
        uint32_t i = 0;
        while (i < p->n && strcmp(p->e[i].shader, shader) != 0)
                i++;
        if (i == p->n) {
                if (p->n == VK_PROFILE_MAX)
                        return;
                snprintf(p->e[p->n++].shader, sizeof(p->e[0].shader), "%s", shader);
        }
        p->e[i].count++;
        p->e[i].ns += ns;
}

static int by_time(const void *a, const void *b) {
        double x = ((const struct vk_profile_entry *) a)->ns, y = ((const struct vk_profile_entry *) b)->ns;
        return (x < y) - (x > y);
}

void vk_ctx_profile_print(struct vk_ctx *ctx, FILE *out) {
        struct vk_profile *p = &ctx->profile;
        if (!p->on || p->n == 0)
                return;
        qsort(p->e, p->n, sizeof(p->e[0]), by_time);
        double total = 0;
        for (uint32_t i = 0; i < p->n; i++)
                total += p->e[i].ns;
        fprintf(out, "GPU time per kernel on %s (VKINFER_PROFILE=1):\n", ctx->info.name);
        fprintf(out, "  %-24s %10s %12s %10s %6s\n", "shader", "dispatches", "total ms", "us each", "share");
        for (uint32_t i = 0; i < p->n; i++)
                fprintf(out, "  %-24s %10llu %12.2f %10.1f %5.1f%%\n", p->e[i].shader, (unsigned long long) p->e[i].count,
                        p->e[i].ns / 1e6, p->e[i].ns / 1e3 / (double) p->e[i].count, 100.0 * p->e[i].ns / total);
        fprintf(out, "  %-24s %10s %12.2f\n", "all", "", total / 1e6);
}
