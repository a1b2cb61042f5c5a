/* The Vulkan compute core: device selection and feature probing, memory
 * sub-allocated from large blocks, pipelines from embedded SPIR-V with a
 * persistent pipeline cache, and recorded command sequences that can be
 * replayed. Every VkResult becomes a negative errno here (vk_errno) with a
 * readable message in struct vkinfer_err; nothing above src/vk sees one.
 *
 * Files: vk-device.c (instance, probing, selection, context), vk-memory.c
 * (blocks, buffers, staging), vk-pipeline.c (pipelines, cache file),
 * vk-seq.c (recording, submission, replay), vk-error.c (VkResult mapping). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <vulkan/vulkan.h>

#include "util/util.h"

/* ---- Errors ---- */

/* The negative errno for a VkResult (VK_SUCCESS gives 0). */
int vk_errno(VkResult r);
/* "VK_ERROR_OUT_OF_DEVICE_MEMORY" style name. */
const char *vk_result_string(VkResult r);
/* Fills err with "what: VK_ERROR_...", returns vk_errno(r). */
int vk_err(struct vkinfer_err *err, VkResult r, const char *what);

/* ---- Devices ---- */

/* Options; the later config file fills these. All-zero means defaults. */
struct vk_opts {
        const char *device;         /* index or name substring; VKINFER_DEVICE overrides */
        int validation;             /* 0: from VKINFER_VALIDATION (=1 turns it on), 1 on, -1 off */
        uint64_t block_size;        /* device memory block size (default 256 MiB) */
        uint64_t max_storage_range; /* lower maxStorageBufferRange (tests of the split path);
                                       VKINFER_MAX_STORAGE_RANGE overrides */
        const char *cache_dir;      /* pipeline cache folder (default $XDG_CACHE_HOME/vkinfer) */
        bool no_pipeline_cache;
        uint32_t require;           /* enum vk_feature bits the device must have besides the basics */
};

/* Optional features a caller (e.g. a shader variant) may require. */
enum vk_feature {
        VK_FEATURE_STORAGE16 = 1u << 0, /* storageBuffer16BitAccess */
        VK_FEATURE_FLOAT16 = 1u << 1,   /* shaderFloat16 */
        VK_FEATURE_INT8 = 1u << 2,      /* shaderInt8 */
        VK_FEATURE_INT64 = 1u << 3,     /* shaderInt64 */
        VK_FEATURE_BDA = 1u << 4,       /* bufferDeviceAddress */
        VK_FEATURE_COOPMAT = 1u << 5,   /* VK_KHR_cooperative_matrix */
};

#define VK_MAX_HEAPS 16
struct vk_device_info {
        uint32_t index; /* in vkEnumeratePhysicalDevices order */
        char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
        char driver[VK_MAX_DRIVER_NAME_SIZE];
        VkPhysicalDeviceType type;
        uint32_t api_version, vendor_id, device_id;
        uint8_t uuid[VK_UUID_SIZE];
        /* features */
        bool storage16, float16, int8, int64, bda, coopmat, memory_budget;
        bool subgroup_arith; /* arithmetic subgroup ops in compute shaders */
        uint32_t subgroup_size, subgroup_ops; /* VkSubgroupFeatureFlags */
        /* limits */
        uint64_t max_storage_range, max_buffer_size, max_alloc; /* max_buffer_size: UINT64_MAX before Vulkan 1.3 */
        uint32_t min_storage_align, max_wg_count[3], max_wg_invocations, max_shared, max_push;
        /* memory */
        uint32_t n_heaps;
        struct {
                uint64_t size, budget, usage; /* budget/usage 0 without VK_EXT_memory_budget */
                bool device_local;
        } heaps[VK_MAX_HEAPS];
        bool suitable;
        char why_not[160]; /* the first missing required feature */
};

/* The readable name of a device type ("discrete GPU", "CPU", ...). */
const char *vk_device_type_string(VkPhysicalDeviceType t);

/* Lists every Vulkan device with its features, and the index (into the
 * list) of the one vk_ctx_create would choose (-1 if none suits).
 * *ret_infos is malloc'd. -ENODEV when there is no Vulkan device at all. */
int vk_list_devices(const struct vk_opts *opts, struct vk_device_info **ret_infos, uint32_t *ret_n,
                    int *ret_chosen, struct vkinfer_err *err);

/* A context and what comes from it (buffers, pipelines, sequences) are used
 * from one thread at a time: transfers share one staging buffer. */
struct vk_ctx;

/* Creates an instance and a device: a discrete GPU first, then integrated,
 * then virtual, then CPU, unless opts/VKINFER_DEVICE name one. -ENODEV
 * (err says so) when there is none; -ENOTSUP naming the missing feature
 * when the chosen device cannot run vkinfer. With validation on, the Khronos
 * layer must be present (-ENOENT otherwise). opts may be NULL. */
int vk_ctx_create(const struct vk_opts *opts, struct vk_ctx **ret, struct vkinfer_err *err);
/* Saves the pipeline cache, frees everything. Accepts NULL; returns NULL. */
struct vk_ctx *vk_ctx_destroy(struct vk_ctx *ctx);
const struct vk_device_info *vk_ctx_info(const struct vk_ctx *ctx);
/* Validation messages (VALIDATION type only) seen so far; each is also
 * printed to stderr. */
uint64_t vk_ctx_validation_count(const struct vk_ctx *ctx);
/* The storage-buffer range ops may bind: the device limit or the override. */
uint64_t vk_ctx_max_range(const struct vk_ctx *ctx);
VkDevice vk_ctx_device(const struct vk_ctx *ctx);
/* With VKINFER_PROFILE=1: GPU time per shader so far, slowest first. Also
 * printed to stderr by vk_ctx_destroy. */
void vk_ctx_profile_print(struct vk_ctx *ctx, FILE *out);

/* ---- Memory ---- */

/* A range of a VkBuffer, what ops bind. offset is a multiple of the
 * device's minStorageBufferOffsetAlignment when it came from vk_buf. */
struct vk_view {
        VkBuffer buffer;
        uint64_t offset, size;
};

enum vk_mem_kind {
        VK_MEM_DEVICE, /* device-local: weights, activations */
        VK_MEM_HOST,   /* host-visible, coherent and mapped: per-step values, readback */
        VK_MEM_KIND_COUNT_,
};

/* A sub-allocation of a large block. */
struct vk_buf {
        struct vk_view view;
        void *map; /* non-NULL for VK_MEM_HOST */
        uint32_t block;
        enum vk_mem_kind kind;
};

/* Sub-allocates size bytes; view.size is size rounded up to 4 bytes (shaders
 * read 32-bit words). Blocks are opts.block_size, or larger for a larger
 * request; -E2BIG (naming the limit) over the device's largest allocation
 * or buffer. */
int vk_buf_alloc(struct vk_ctx *ctx, enum vk_mem_kind kind, uint64_t size, struct vk_buf **ret,
                 struct vkinfer_err *err);
/* Accepts NULL; returns NULL. */
struct vk_buf *vk_buf_free(struct vk_ctx *ctx, struct vk_buf *b);
/* Bytes allocated from the device in blocks, per kind. */
uint64_t vk_mem_reserved(const struct vk_ctx *ctx, enum vk_mem_kind kind);

/* A sub-range; offset + size must fit in v (asserted by clamping to v). */
struct vk_view vk_view_sub(struct vk_view v, uint64_t offset, uint64_t size);

/* Copies between host memory and a view through the staging buffer,
 * waiting for completion. size <= view.size. */
int vk_upload(struct vk_ctx *ctx, struct vk_view dst, const void *src, uint64_t size, struct vkinfer_err *err);
int vk_download(struct vk_ctx *ctx, struct vk_view src, void *dst, uint64_t size, struct vkinfer_err *err);

/* Measures device-to-device copy bandwidth in bytes/s over `bytes`
 * (repeated `reps` times). */
int vk_measure_copy_bandwidth(struct vk_ctx *ctx, uint64_t bytes, uint32_t reps, double *ret_bps,
                              struct vkinfer_err *err);

/* ---- Pipelines ---- */

struct vk_pipeline;

#define VK_MAX_BINDINGS 8
#define VK_MAX_SPEC 4
/* The pipeline for an embedded shader with n_bindings storage buffers
 * (bindings 0..n-1), push_size bytes of push constants and specialization
 * constants 0..n_spec-1 (constant 0 is the workgroup size). Created once and
 * kept in the context. */
int vk_pipeline_get(struct vk_ctx *ctx, const char *shader, uint32_t n_bindings, uint32_t push_size,
                    const uint32_t *spec, uint32_t n_spec, struct vk_pipeline **ret, struct vkinfer_err *err);
/* The workgroup size (spec constant 0) the pipeline was made with. */
uint32_t vk_pipeline_wg(const struct vk_pipeline *p);

/* Writes the pipeline cache file now (also done by vk_ctx_destroy). */
int vk_pipeline_cache_save(struct vk_ctx *ctx, struct vkinfer_err *err);
/* The file the cache is loaded from and saved to ("" when disabled). */
const char *vk_pipeline_cache_path(const struct vk_ctx *ctx);
/* Bytes of cache data accepted from that file at start (0: none or invalid). */
size_t vk_pipeline_cache_loaded(const struct vk_ctx *ctx);

/* ---- Sequences ---- */

/* A command buffer recorded once and submitted any number of times: the
 * forward pass records a decode step and replays it per token, changing
 * per-step values through VK_MEM_HOST buffers it binds. */
struct vk_seq;

int vk_seq_create(struct vk_ctx *ctx, struct vk_seq **ret, struct vkinfer_err *err);
/* Waits for a pending submission. Accepts NULL; returns NULL. */
struct vk_seq *vk_seq_destroy(struct vk_seq *s);
struct vk_ctx *vk_seq_ctx(struct vk_seq *s);

/* Starts (re)recording, dropping what was recorded before. */
int vk_seq_begin(struct vk_seq *s, struct vkinfer_err *err);
/* Records one dispatch of groups[0..2] workgroups. A barrier orders it after
 * everything recorded before (every op reads what the previous wrote). */
int vk_seq_dispatch(struct vk_seq *s, struct vk_pipeline *p, const struct vk_view *views, uint32_t n_views,
                    const void *push, uint32_t push_size, const uint32_t groups[3], struct vkinfer_err *err);
/* Records a copy / a fill with a 32-bit pattern (sizes multiples of 4). */
int vk_seq_copy(struct vk_seq *s, struct vk_view src, struct vk_view dst, uint64_t size, struct vkinfer_err *err);
int vk_seq_fill(struct vk_seq *s, struct vk_view dst, uint32_t value, struct vkinfer_err *err);
int vk_seq_end(struct vk_seq *s, struct vkinfer_err *err);
/* Submits the recorded sequence; vk_seq_wait waits for it. Replaying means
 * calling these again. */
int vk_seq_submit(struct vk_seq *s, struct vkinfer_err *err);
int vk_seq_wait(struct vk_seq *s, struct vkinfer_err *err);
/* Submit + wait. */
int vk_seq_run(struct vk_seq *s, struct vkinfer_err *err);
/* Dispatches recorded since vk_seq_begin. */
uint32_t vk_seq_n_dispatches(const struct vk_seq *s);
/* Pipeline barriers recorded since vk_seq_begin (a GPU drains its work at
 * each: the figure fusing and dependency tracking bring down). */
uint32_t vk_seq_n_barriers(const struct vk_seq *s);

/* Spreads n workgroups over x and y within the device's limits (shaders
 * use wg_linear() and check the bound). */
void vk_groups_linear(const struct vk_ctx *ctx, uint64_t n, uint32_t groups[3]);
