/* Picks the runner for a device name. */
#include <string.h>

#include "sched/runner.h"

int runner_open(const char *device, const struct model *m, uint32_t n_ctx, uint32_t max_seqs, struct runner **ret,
                struct vkinfer_err *err) {
        /* The CPU reference serves every device until the Vulkan runner is
         * wired in; `cpu-reference` keeps selecting it afterwards. */
        (void) device;
        return runner_cpu_new(m, n_ctx, max_seqs, ret, err);
}
