/* The context's insides, shared by the files of src/vk only. */
#pragma once

#include <stdatomic.h>

#include "vk/vk.h"

struct vk_block {
        VkDeviceMemory memory;
        VkBuffer buffer;
        uint64_t size;
        void *map;
        /* Free ranges, sorted by offset, coalesced on free. */
        struct vk_range {
                uint64_t offset, size;
        } *free;
        uint32_t n_free, cap_free;
};

struct vk_pipeline {
        char shader[48];
        uint32_t n_bindings, push_size, n_spec;
        uint32_t spec[VK_MAX_SPEC];
        VkDescriptorSetLayout set_layout;
        VkPipelineLayout layout;
        VkPipeline pipeline;
        struct vk_pipeline *next;
};

#define VK_PROFILE_MAX 64

struct vk_profile_entry {
        char shader[48];
        uint64_t count;
        double ns;
};

/* vk-profile.c: GPU time per shader, when VKINFER_PROFILE=1 */
struct vk_profile {
        bool on;
        float period_ns;
        uint32_t n;
        struct vk_profile_entry e[VK_PROFILE_MAX];
};

struct vk_ctx {
        struct vk_opts opts;
        VkInstance instance;
        VkDebugUtilsMessengerEXT messenger;
        atomic_uint_fast64_t validation_count;
        VkPhysicalDevice phys;
        struct vk_device_info info;
        VkDevice device;
        uint32_t queue_family;
        VkQueue queue;
        uint64_t max_range;

        /* memory */
        uint32_t mem_type[VK_MEM_KIND_COUNT_];
        struct vk_block *blocks[VK_MEM_KIND_COUNT_];
        uint32_t n_blocks[VK_MEM_KIND_COUNT_];
        uint64_t align;

        /* staging: one host buffer, one command buffer and fence for copies */
        struct vk_buf *staging;
        VkCommandPool pool;
        VkCommandBuffer xfer_cmd;
        VkFence xfer_fence;

        /* pipelines */
        struct vk_pipeline *pipelines;
        VkPipelineCache cache;
        char cache_path[512];
        size_t cache_loaded_size, cache_saved_size;

        struct vk_profile profile;
};

/* vk-profile.c */
void vk_profile_init(struct vk_ctx *ctx);
void vk_profile_add(struct vk_ctx *ctx, const char *shader, double ns);
/* vk-memory.c */
int vk_memory_init(struct vk_ctx *ctx, struct vkinfer_err *err);
void vk_memory_finish(struct vk_ctx *ctx);
/* vk-pipeline.c */
int vk_pipelines_init(struct vk_ctx *ctx, struct vkinfer_err *err);
void vk_pipelines_finish(struct vk_ctx *ctx);
