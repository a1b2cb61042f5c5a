/* vkinfer selftest: every kernel once on the chosen device against its CPU
 * reference, one line each, then a summary. Exit 1 on any failure
 * (including a validation message when VKINFER_VALIDATION=1). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ops/selftest.h"
#include "vk/vk.h"

static void print_result(const struct ops_selftest_result *r, void *userdata) {
        if (r->failure)
                printf("FAIL  %-16s %s\n", r->kernel, r->failure);
        else
                printf("%-5s %-16s %-24s error %.2g (tolerance %.0g)\n", r->ok ? "ok" : "FAIL", r->kernel, r->shape,
                       r->error, r->tolerance);
        (*(int *) userdata)++;
}

int cmd_selftest(int argc, char **argv) {
        if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                printf("Usage: vkinfer selftest\n\nRuns every compute kernel once on the chosen Vulkan device\n"
                       "(VKINFER_DEVICE) and compares it with its CPU reference.\n");
                return 0;
        }
        struct vkinfer_err err = {{0}};
        struct vk_ctx *ctx = NULL;
        int r = vk_ctx_create(NULL, &ctx, &err);
        if (r < 0) {
                fprintf(stderr, "vkinfer selftest: %s\n", err.msg);
                return 1;
        }
        printf("selftest on %s (subgroup size %u)\n", vk_ctx_info(ctx)->name, vk_ctx_info(ctx)->subgroup_size);
        fflush(stdout);
        int n = 0;
        int failed = ops_selftest(ctx, print_result, &n, &err);
        uint64_t validation = vk_ctx_validation_count(ctx);
        double bps = 0;
        struct vkinfer_err berr = {{0}};
        if (vk_measure_copy_bandwidth(ctx, 16 << 20, 4, &bps, &berr) >= 0)
                printf("device copy bandwidth: %.1f GB/s\n", bps / 1e9);
        vk_ctx_destroy(ctx);
        if (failed < 0) {
                fprintf(stderr, "vkinfer selftest: %s\n", err.msg);
                return 1;
        }
        printf("selftest: %d kernels, %d passed, %d failed", n, n - failed, failed);
        if (validation)
                printf(", %llu validation message(s)", (unsigned long long) validation);
        printf("\n");
        return failed || validation ? 1 : 0;
}
