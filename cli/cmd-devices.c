/* vkinfer devices: every Vulkan device with the features vkinfer probes,
 * the one vkinfer would choose marked with '*'. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "vk/vk.h"

static void human(char *buf, size_t n, uint64_t bytes) {
        if (bytes >= 1ull << 30)
                snprintf(buf, n, "%.1f GiB", (double) bytes / (1ull << 30));
        else if (bytes >= 1ull << 20)
                snprintf(buf, n, "%.1f MiB", (double) bytes / (1ull << 20));
        else if (bytes >= 1ull << 10)
                snprintf(buf, n, "%.1f KiB", (double) bytes / (1ull << 10));
        else
                snprintf(buf, n, "%llu B", (unsigned long long) bytes);
}

static const char *yn(bool b) {
        return b ? "yes" : "no";
}

static void subgroup_ops(char *buf, size_t n, uint32_t ops) {
        static const struct {
                uint32_t bit;
                const char *name;
        } names[] = {
                {VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"},       {VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"},
                {VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"}, {VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"},
                {VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"},   {VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle-relative"},
                {VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"}, {VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"},
        };
        buf[0] = 0;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (ops & names[i].bit) {
                        size_t l = strlen(buf);
                        snprintf(buf + l, n - l, "%s%s", l ? " " : "", names[i].name);
                }
        if (!buf[0])
                snprintf(buf, n, "none");
}

int cmd_devices(int argc, char **argv) {
        if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                printf("Usage: vkinfer devices\n\nLists every Vulkan device and its features; '*' marks the one\n"
                       "vkinfer would use (set VKINFER_DEVICE to an index or a name substring to choose).\n");
                return 0;
        }
        struct vk_device_info *infos = NULL;
        uint32_t n = 0;
        int chosen = -1;
        struct vkinfer_err err = {{0}};
        int r = vk_list_devices(NULL, &infos, &n, &chosen, &err);
        if (r < 0) {
                fprintf(stderr, "vkinfer devices: %s\n", err.msg);
                return 1;
        }
        for (uint32_t i = 0; i < n; i++) {
                const struct vk_device_info *d = &infos[i];
                char a[32], b[32], c[32], ops[160];
                printf("%s %u: %s\n", (int) i == chosen ? "*" : " ", d->index, d->name);
                printf("     type %s, driver %s, Vulkan %u.%u.%u, vendor 0x%04x device 0x%04x\n",
                       vk_device_type_string(d->type), d->driver[0] ? d->driver : "?",
                       VK_API_VERSION_MAJOR(d->api_version), VK_API_VERSION_MINOR(d->api_version),
                       VK_API_VERSION_PATCH(d->api_version), d->vendor_id, d->device_id);
                subgroup_ops(ops, sizeof(ops), d->subgroup_ops);
                printf("     subgroup size %u, operations: %s\n", d->subgroup_size, ops);
                printf("     16-bit storage %s, float16 %s, int8 %s, int64 %s, buffer device address %s, "
                       "cooperative matrix (KHR) %s\n",
                       yn(d->storage16), yn(d->float16), yn(d->int8), yn(d->int64), yn(d->bda), yn(d->coopmat));
                human(a, sizeof(a), d->max_storage_range);
                human(b, sizeof(b), d->max_shared);
                printf("     max storage buffer range %s, storage offset alignment %u, shared memory %s, "
                       "push constants %u B\n", a, d->min_storage_align, b, d->max_push);
                human(a, sizeof(a), d->max_alloc);
                if (d->max_buffer_size != UINT64_MAX)
                        human(b, sizeof(b), d->max_buffer_size);
                else
                        snprintf(b, sizeof(b), "not reported");
                printf("     max allocation %s, max buffer %s\n", a, b);
                for (uint32_t h = 0; h < d->n_heaps; h++) {
                        human(a, sizeof(a), d->heaps[h].size);
                        if (d->memory_budget) {
                                human(b, sizeof(b), d->heaps[h].budget);
                                human(c, sizeof(c), d->heaps[h].usage);
                                printf("     memory heap %u: %s%s, budget %s, used %s\n", h, a,
                                       d->heaps[h].device_local ? " device-local" : "", b, c);
                        } else {
                                printf("     memory heap %u: %s%s (no VK_EXT_memory_budget)\n", h, a,
                                       d->heaps[h].device_local ? " device-local" : "");
                        }
                }
                if (!d->suitable)
                        printf("     cannot run vkinfer: %s\n", d->why_not);
        }
        if (chosen >= 0)
                printf("vkinfer would use device %u (%s).\n", infos[chosen].index, infos[chosen].name);
        else
                printf("No device can run vkinfer%s.\n", getenv("VKINFER_DEVICE") ? " (check VKINFER_DEVICE)" : "");
        free(infos);
        return chosen >= 0 ? 0 : 1;
}
