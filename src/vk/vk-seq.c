/* Command sequences: record dispatches, copies and fills once, with a full
 * memory barrier before each command (every op reads what the previous one
 * wrote), then submit and wait as many times as needed. Each dispatch gets
 * its own descriptor set from the sequence's pools, so a replay binds the
 * same buffers as the recording. */
#include "vk/vk-internal.h"

#include <errno.h>
#include <string.h>

#define SETS_PER_POOL 256

struct vk_seq {
        struct vk_ctx *ctx;
        VkCommandPool pool;
        VkCommandBuffer cmd;
        VkFence fence;
        VkDescriptorPool *dpools;
        uint32_t n_dpools, cur_dpool;
        bool recording, recorded, pending;
        uint32_t n_dispatches, n_barriers;

        /* VKINFER_PROFILE: a timestamp after each of the first PROFILE_CAP
         * dispatches (query 0 is the start), and which shader it ended */
        VkQueryPool queries;
        const char **query_shader;
        uint32_t n_queries;
};

#define PROFILE_CAP 4096

int vk_seq_create(struct vk_ctx *ctx, struct vk_seq **ret, struct vkinfer_err *err) {
        struct vk_seq *s = calloc(1, sizeof(*s));
        if (!s)
                return err_set(err, -ENOMEM, "out of memory");
        s->ctx = ctx;
        VkCommandPoolCreateInfo pci = {
                .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                .queueFamilyIndex = ctx->queue_family,
        };
        VkResult vr = vkCreateCommandPool(ctx->device, &pci, NULL, &s->pool);
        VkCommandBufferAllocateInfo cai = {
                .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                .commandPool = s->pool,
                .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                .commandBufferCount = 1,
        };
        if (vr == VK_SUCCESS)
                vr = vkAllocateCommandBuffers(ctx->device, &cai, &s->cmd);
        VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        if (vr == VK_SUCCESS)
                vr = vkCreateFence(ctx->device, &fci, NULL, &s->fence);
        if (vr == VK_SUCCESS && ctx->profile.on) {
                VkQueryPoolCreateInfo qi = {
                        .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                        .queryType = VK_QUERY_TYPE_TIMESTAMP,
                        .queryCount = PROFILE_CAP + 1,
                };
                vr = vkCreateQueryPool(ctx->device, &qi, NULL, &s->queries);
                s->query_shader = calloc(PROFILE_CAP + 1, sizeof(*s->query_shader));
                if (vr == VK_SUCCESS && !s->query_shader)
                        vr = VK_ERROR_OUT_OF_HOST_MEMORY;
        }
        if (vr != VK_SUCCESS) {
                vk_seq_destroy(s);
                return vk_err(err, vr, "creating a command sequence");
        }
        *ret = s;
        return 0;
}

struct vk_seq *vk_seq_destroy(struct vk_seq *s) {
        if (!s)
                return NULL;
        VkDevice dev = s->ctx->device;
        if (s->pending)
                vkWaitForFences(dev, 1, &s->fence, VK_TRUE, UINT64_MAX);
        for (uint32_t i = 0; i < s->n_dpools; i++)
                vkDestroyDescriptorPool(dev, s->dpools[i], NULL);
        free(s->dpools);
        if (s->queries)
                vkDestroyQueryPool(dev, s->queries, NULL);
        free(s->query_shader);
        if (s->fence)
                vkDestroyFence(dev, s->fence, NULL);
        if (s->pool)
                vkDestroyCommandPool(dev, s->pool, NULL);
        free(s);
        return NULL;
}

struct vk_ctx *vk_seq_ctx(struct vk_seq *s) {
        return s->ctx;
}

uint32_t vk_seq_n_dispatches(const struct vk_seq *s) {
        return s->n_dispatches;
}

uint32_t vk_seq_n_barriers(const struct vk_seq *s) {
        return s->n_barriers;
}

static void profile_collect(struct vk_seq *s) {
        if (!s->queries || s->n_queries < 2)
                return;
        uint64_t t[PROFILE_CAP + 1];
        if (vkGetQueryPoolResults(s->ctx->device, s->queries, 0, s->n_queries, sizeof(t), t, sizeof(t[0]),
                                  VK_QUERY_RESULT_64_BIT) != VK_SUCCESS)
                return;
        for (uint32_t i = 1; i < s->n_queries; i++)
                vk_profile_add(s->ctx, s->query_shader[i], (double) (t[i] - t[i - 1]) * s->ctx->profile.period_ns);
}

int vk_seq_wait(struct vk_seq *s, struct vkinfer_err *err) {
        if (!s->pending)
                return 0;
        VkResult vr = vkWaitForFences(s->ctx->device, 1, &s->fence, VK_TRUE, UINT64_MAX);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkWaitForFences");
        s->pending = false;
        vr = vkResetFences(s->ctx->device, 1, &s->fence);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkResetFences");
        profile_collect(s);
        return 0;
}

int vk_seq_begin(struct vk_seq *s, struct vkinfer_err *err) {
        int r = vk_seq_wait(s, err);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < s->n_dpools; i++)
                vkResetDescriptorPool(s->ctx->device, s->dpools[i], 0);
        s->cur_dpool = 0;
        s->n_dispatches = 0;
        s->n_barriers = 0;
        s->recorded = false;
        VkResult vr = vkResetCommandBuffer(s->cmd, 0);
        VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        if (vr == VK_SUCCESS)
                vr = vkBeginCommandBuffer(s->cmd, &bi);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkBeginCommandBuffer");
        s->recording = true;
        s->n_queries = 0;
        if (s->queries) {
                vkCmdResetQueryPool(s->cmd, s->queries, 0, PROFILE_CAP + 1);
                vkCmdWriteTimestamp(s->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, s->queries, 0);
                s->n_queries = 1;
        }
        return 0;
}

/* Orders the next command after every earlier compute or transfer write,
 * including those of earlier submissions (replays). */
static void barrier(struct vk_seq *s) {
        VkMemoryBarrier mb = {
                .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                                 VK_ACCESS_TRANSFER_WRITE_BIT,
        };
        VkPipelineStageFlags st = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
        vkCmdPipelineBarrier(s->cmd, st, st, 0, 1, &mb, 0, NULL, 0, NULL);
        s->n_barriers++;
}

static int alloc_set(struct vk_seq *s, VkDescriptorSetLayout layout, VkDescriptorSet *ret, struct vkinfer_err *err) {
        VkDevice dev = s->ctx->device;
        for (;;) {
                if (s->cur_dpool < s->n_dpools) {
                        VkDescriptorSetAllocateInfo ai = {
                                .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                .descriptorPool = s->dpools[s->cur_dpool],
                                .descriptorSetCount = 1,
                                .pSetLayouts = &layout,
                        };
                        VkResult vr = vkAllocateDescriptorSets(dev, &ai, ret);
                        if (vr == VK_SUCCESS)
                                return 0;
                        if (vr != VK_ERROR_OUT_OF_POOL_MEMORY && vr != VK_ERROR_FRAGMENTED_POOL)
                                return vk_err(err, vr, "vkAllocateDescriptorSets");
                        s->cur_dpool++;
                        continue;
                }
                VkDescriptorPool *np = realloc(s->dpools, (s->n_dpools + 1) * sizeof(*np));
                if (!np)
                        return err_set(err, -ENOMEM, "out of memory");
                s->dpools = np;
                VkDescriptorPoolSize ps = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * VK_MAX_BINDINGS};
                VkDescriptorPoolCreateInfo ci = {
                        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                        .maxSets = SETS_PER_POOL,
                        .poolSizeCount = 1,
                        .pPoolSizes = &ps,
                };
                VkResult vr = vkCreateDescriptorPool(dev, &ci, NULL, &s->dpools[s->n_dpools]);
                if (vr != VK_SUCCESS)
                        return vk_err(err, vr, "vkCreateDescriptorPool");
                s->cur_dpool = s->n_dpools++;
        }
}

int vk_seq_dispatch(struct vk_seq *s, struct vk_pipeline *p, const struct vk_view *views, uint32_t n_views,
                    const void *push, uint32_t push_size, const uint32_t groups[3], struct vkinfer_err *err) {
        const struct vk_ctx *ctx = s->ctx;
        if (!s->recording)
                return err_set(err, -EINVAL, "%s: the sequence is not recording", p->shader);
        if (n_views != p->n_bindings || push_size != p->push_size)
                return err_set(err, -EINVAL, "%s: %u buffers and %u push bytes given, the pipeline takes %u and %u",
                               p->shader, n_views, push_size, p->n_bindings, p->push_size);
        for (uint32_t i = 0; i < 3; i++)
                if (groups[i] == 0 || groups[i] > ctx->info.max_wg_count[i])
                        return err_set(err, -EINVAL, "%s: %u workgroups in dimension %u (limit %u)", p->shader,
                                       groups[i], i, ctx->info.max_wg_count[i]);
        VkDescriptorBufferInfo bi[VK_MAX_BINDINGS];
        VkWriteDescriptorSet w[VK_MAX_BINDINGS];
        VkDescriptorSet set;
        for (uint32_t i = 0; i < n_views; i++) {
                if (views[i].size == 0 || views[i].buffer == VK_NULL_HANDLE)
                        return err_set(err, -EINVAL, "%s: buffer %u is empty", p->shader, i);
                /* The (possibly lowered) limit holds for every binding, so a
                 * forgotten split fails in CI, not on a big model. */
                if (views[i].size > ctx->max_range)
                        return err_set(err, -E2BIG, "%s: buffer %u is %llu bytes, over the %llu-byte storage range",
                                       p->shader, i, (unsigned long long) views[i].size,
                                       (unsigned long long) ctx->max_range);
                if (views[i].offset % ctx->info.min_storage_align)
                        return err_set(err, -EINVAL, "%s: buffer %u offset %llu is not a multiple of %u", p->shader,
                                       i, (unsigned long long) views[i].offset, ctx->info.min_storage_align);
                bi[i] = (VkDescriptorBufferInfo){views[i].buffer, views[i].offset, views[i].size};
        }
        int r = alloc_set(s, p->set_layout, &set, err);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < n_views; i++)
                w[i] = (VkWriteDescriptorSet){
                        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                        .dstSet = set,
                        .dstBinding = i,
                        .descriptorCount = 1,
                        .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                        .pBufferInfo = &bi[i],
                };
        vkUpdateDescriptorSets(ctx->device, n_views, w, 0, NULL);
        barrier(s);
        vkCmdBindPipeline(s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
        vkCmdBindDescriptorSets(s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0, NULL);
        if (push_size)
                vkCmdPushConstants(s->cmd, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
        vkCmdDispatch(s->cmd, groups[0], groups[1], groups[2]);
        s->n_dispatches++;
        if (s->queries && s->n_queries <= PROFILE_CAP) {
                vkCmdWriteTimestamp(s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, s->queries, s->n_queries);
                s->query_shader[s->n_queries++] = p->shader;
        }
        return 0;
}

int vk_seq_copy(struct vk_seq *s, struct vk_view src, struct vk_view dst, uint64_t size, struct vkinfer_err *err) {
        if (!s->recording)
                return err_set(err, -EINVAL, "copy: the sequence is not recording");
        if (size > src.size || size > dst.size || size == 0)
                return err_set(err, -EINVAL, "copy of %llu bytes between views of %llu and %llu",
                               (unsigned long long) size, (unsigned long long) src.size, (unsigned long long) dst.size);
        barrier(s);
        VkBufferCopy region = {.srcOffset = src.offset, .dstOffset = dst.offset, .size = size};
        vkCmdCopyBuffer(s->cmd, src.buffer, dst.buffer, 1, &region);
        return 0;
}

int vk_seq_fill(struct vk_seq *s, struct vk_view dst, uint32_t value, struct vkinfer_err *err) {
        if (!s->recording)
                return err_set(err, -EINVAL, "fill: the sequence is not recording");
        if (dst.size % 4 || dst.offset % 4 || dst.size == 0)
                return err_set(err, -EINVAL, "fill needs a 4-byte aligned, non-empty view");
        barrier(s);
        vkCmdFillBuffer(s->cmd, dst.buffer, dst.offset, dst.size, value);
        return 0;
}

int vk_seq_end(struct vk_seq *s, struct vkinfer_err *err) {
        if (!s->recording)
                return err_set(err, -EINVAL, "the sequence is not recording");
        /* Results become visible to the host (mapped VK_MEM_HOST buffers). */
        VkMemoryBarrier mb = {
                .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
        };
        vkCmdPipelineBarrier(s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
        s->recording = false;
        VkResult vr = vkEndCommandBuffer(s->cmd);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkEndCommandBuffer");
        s->recorded = true;
        return 0;
}

int vk_seq_submit(struct vk_seq *s, struct vkinfer_err *err) {
        if (!s->recorded)
                return err_set(err, -EINVAL, "submit: nothing recorded (call vk_seq_end)");
        int r = vk_seq_wait(s, err);
        if (r < 0)
                return r;
        VkSubmitInfo si = {
                .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                .commandBufferCount = 1,
                .pCommandBuffers = &s->cmd,
        };
        VkResult vr = vkQueueSubmit(s->ctx->queue, 1, &si, s->fence);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkQueueSubmit");
        s->pending = true;
        return 0;
}

int vk_seq_run(struct vk_seq *s, struct vkinfer_err *err) {
        int r = vk_seq_submit(s, err);
        if (r < 0)
                return r;
        return vk_seq_wait(s, err);
}
