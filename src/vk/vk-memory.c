/* Device memory: a few large blocks per kind, each one VkBuffer that views
 * sub-allocate from (first fit, coalescing free list), so a model's hundreds
 * of tensors cost a handful of vkAllocateMemory calls. Host transfers go
 * through one staging buffer. */
#include "vk/vk-internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define DEFAULT_BLOCK_SIZE (256ull << 20)
#define STAGING_SIZE (8ull << 20)

static const VkBufferUsageFlags buffer_usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                               VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                               VK_BUFFER_USAGE_TRANSFER_DST_BIT;

static int find_type(const VkPhysicalDeviceMemoryProperties *mp, uint32_t bits, VkMemoryPropertyFlags want,
                     VkMemoryPropertyFlags prefer) {
        int fallback = -1;
        for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
                VkMemoryPropertyFlags f = mp->memoryTypes[i].propertyFlags;
                if (!(bits & (1u << i)) || (f & want) != want)
                        continue;
                if ((f & prefer) == prefer)
                        return (int) i;
                if (fallback < 0)
                        fallback = (int) i;
        }
        return fallback;
}

int vk_memory_init(struct vk_ctx *ctx, struct vkinfer_err *err) {
        if (!ctx->opts.block_size)
                ctx->opts.block_size = DEFAULT_BLOCK_SIZE;
        ctx->align = ctx->info.min_storage_align > 64 ? ctx->info.min_storage_align : 64;
        ctx->opts.block_size = align_up(ctx->opts.block_size, ctx->align);

        /* Which memory types a storage buffer may live in. */
        VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = 4096, .usage = buffer_usage};
        VkBuffer probe_buf;
        VkResult vr = vkCreateBuffer(ctx->device, &bci, NULL, &probe_buf);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkCreateBuffer");
        VkMemoryRequirements req;
        vkGetBufferMemoryRequirements(ctx->device, probe_buf, &req);
        vkDestroyBuffer(ctx->device, probe_buf, NULL);
        VkPhysicalDeviceMemoryProperties mp;
        vkGetPhysicalDeviceMemoryProperties(ctx->phys, &mp);
        int dev = find_type(&mp, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
        if (dev < 0)
                dev = find_type(&mp, req.memoryTypeBits, 0, 0);
        int host = find_type(&mp, req.memoryTypeBits,
                             VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                             VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        if (dev < 0 || host < 0)
                return err_set(err, -ENOTSUP, "device %s has no %s memory type for storage buffers", ctx->info.name,
                               dev < 0 ? "device" : "host-visible coherent");
        ctx->mem_type[VK_MEM_DEVICE] = (uint32_t) dev;
        ctx->mem_type[VK_MEM_HOST] = (uint32_t) host;

        VkCommandPoolCreateInfo pci = {
                .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                .queueFamilyIndex = ctx->queue_family,
        };
        vr = vkCreateCommandPool(ctx->device, &pci, NULL, &ctx->pool);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkCreateCommandPool");
        VkCommandBufferAllocateInfo cai = {
                .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                .commandPool = ctx->pool,
                .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                .commandBufferCount = 1,
        };
        vr = vkAllocateCommandBuffers(ctx->device, &cai, &ctx->xfer_cmd);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkAllocateCommandBuffers");
        VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        vr = vkCreateFence(ctx->device, &fci, NULL, &ctx->xfer_fence);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkCreateFence");
        return vk_buf_alloc(ctx, VK_MEM_HOST, STAGING_SIZE, &ctx->staging, err);
}

void vk_memory_finish(struct vk_ctx *ctx) {
        ctx->staging = vk_buf_free(ctx, ctx->staging);
        if (ctx->xfer_fence)
                vkDestroyFence(ctx->device, ctx->xfer_fence, NULL);
        if (ctx->pool)
                vkDestroyCommandPool(ctx->device, ctx->pool, NULL);
        for (int k = 0; k < VK_MEM_KIND_COUNT_; k++) {
                for (uint32_t i = 0; i < ctx->n_blocks[k]; i++) {
                        struct vk_block *b = &ctx->blocks[k][i];
                        vkDestroyBuffer(ctx->device, b->buffer, NULL);
                        vkFreeMemory(ctx->device, b->memory, NULL); /* unmaps */
                        free(b->free);
                }
                free(ctx->blocks[k]);
                ctx->blocks[k] = NULL;
                ctx->n_blocks[k] = 0;
        }
}

static int block_add(struct vk_ctx *ctx, enum vk_mem_kind kind, uint64_t size, struct vkinfer_err *err) {
        struct vk_block *nb = realloc(ctx->blocks[kind], (ctx->n_blocks[kind] + 1) * sizeof(*nb));
        if (!nb)
                return err_set(err, -ENOMEM, "out of memory");
        ctx->blocks[kind] = nb;
        struct vk_block *b = &nb[ctx->n_blocks[kind]];
        memset(b, 0, sizeof(*b));
        b->size = size;
        b->free = malloc(4 * sizeof(*b->free));
        if (!b->free)
                return err_set(err, -ENOMEM, "out of memory");
        b->cap_free = 4;
        b->n_free = 1;
        b->free[0] = (struct vk_range){0, size};

        VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size, .usage = buffer_usage};
        VkResult vr = vkCreateBuffer(ctx->device, &bci, NULL, &b->buffer);
        if (vr != VK_SUCCESS) {
                free(b->free);
                return vk_err(err, vr, "vkCreateBuffer (memory block)");
        }
        VkMemoryRequirements req;
        vkGetBufferMemoryRequirements(ctx->device, b->buffer, &req);
        VkMemoryAllocateInfo mai = {
                .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                .allocationSize = req.size,
                .memoryTypeIndex = ctx->mem_type[kind],
        };
        vr = vkAllocateMemory(ctx->device, &mai, NULL, &b->memory);
        if (vr == VK_SUCCESS)
                vr = vkBindBufferMemory(ctx->device, b->buffer, b->memory, 0);
        if (vr == VK_SUCCESS && kind == VK_MEM_HOST)
                vr = vkMapMemory(ctx->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->map);
        if (vr != VK_SUCCESS) {
                vkDestroyBuffer(ctx->device, b->buffer, NULL);
                if (b->memory)
                        vkFreeMemory(ctx->device, b->memory, NULL);
                free(b->free);
                return err_set(err, vk_errno(vr), "cannot allocate a %s memory block of %llu MiB: %s",
                               kind == VK_MEM_HOST ? "host" : "device", (unsigned long long) (size >> 20),
                               vk_result_string(vr));
        }
        ctx->n_blocks[kind]++;
        return 0;
}

/* First fit in block b; the offset or UINT64_MAX. */
static uint64_t block_take(struct vk_block *b, uint64_t size) {
        for (uint32_t i = 0; i < b->n_free; i++) {
                struct vk_range *r = &b->free[i];
                if (r->size < size)
                        continue;
                uint64_t off = r->offset;
                r->offset += size;
                r->size -= size;
                if (r->size == 0) {
                        memmove(r, r + 1, (b->n_free - i - 1) * sizeof(*r));
                        b->n_free--;
                }
                return off;
        }
        return UINT64_MAX;
}

static int block_give(struct vk_block *b, uint64_t off, uint64_t size) {
        uint32_t i = 0;
        while (i < b->n_free && b->free[i].offset < off)
                i++;
        bool join_prev = i > 0 && b->free[i - 1].offset + b->free[i - 1].size == off;
        bool join_next = i < b->n_free && off + size == b->free[i].offset;
        if (join_prev && join_next) {
                b->free[i - 1].size += size + b->free[i].size;
                memmove(&b->free[i], &b->free[i + 1], (b->n_free - i - 1) * sizeof(b->free[0]));
                b->n_free--;
        } else if (join_prev) {
                b->free[i - 1].size += size;
        } else if (join_next) {
                b->free[i].offset = off;
                b->free[i].size += size;
        } else {
                if (b->n_free == b->cap_free) {
                        struct vk_range *nf = realloc(b->free, 2 * b->cap_free * sizeof(*nf));
                        if (!nf)
                                return -ENOMEM; /* the range leaks until the context goes */
                        b->free = nf;
                        b->cap_free *= 2;
                }
                memmove(&b->free[i + 1], &b->free[i], (b->n_free - i) * sizeof(b->free[0]));
                b->free[i] = (struct vk_range){off, size};
                b->n_free++;
        }
        return 0;
}

int vk_buf_alloc(struct vk_ctx *ctx, enum vk_mem_kind kind, uint64_t size, struct vk_buf **ret,
                 struct vkinfer_err *err) {
        if (kind < 0 || kind >= VK_MEM_KIND_COUNT_ || size == 0)
                return err_set(err, -EINVAL, "invalid buffer request (%llu bytes)", (unsigned long long) size);
        if (size > UINT64_MAX / 2)
                return err_set(err, -EOVERFLOW, "buffer size overflows");
        uint64_t asize = align_up(size, ctx->align);
        if (asize > ctx->info.max_alloc || asize > ctx->info.max_buffer_size)
                return err_set(err, -E2BIG, "a buffer of %llu bytes exceeds the device's %s (%llu bytes)",
                               (unsigned long long) size,
                               asize > ctx->info.max_alloc ? "maxMemoryAllocationSize" : "maxBufferSize",
                               (unsigned long long) (asize > ctx->info.max_alloc ? ctx->info.max_alloc
                                                                                 : ctx->info.max_buffer_size));
        struct vk_buf *buf = calloc(1, sizeof(*buf));
        if (!buf)
                return err_set(err, -ENOMEM, "out of memory");
        uint64_t off = UINT64_MAX;
        uint32_t bi = 0;
        for (bi = 0; bi < ctx->n_blocks[kind]; bi++) {
                off = block_take(&ctx->blocks[kind][bi], asize);
                if (off != UINT64_MAX)
                        break;
        }
        if (off == UINT64_MAX) {
                uint64_t bs = asize > ctx->opts.block_size ? asize : ctx->opts.block_size;
                if (bs > ctx->info.max_alloc || bs > ctx->info.max_buffer_size)
                        bs = asize; /* a small device: a block of just this size */
                int r = block_add(ctx, kind, bs, err);
                if (r < 0) {
                        free(buf);
                        return r;
                }
                bi = ctx->n_blocks[kind] - 1;
                off = block_take(&ctx->blocks[kind][bi], asize);
        }
        struct vk_block *b = &ctx->blocks[kind][bi];
        buf->view = (struct vk_view){b->buffer, off, align_up(size, 4)};
        buf->map = b->map ? (uint8_t *) b->map + off : NULL;
        buf->block = bi;
        buf->kind = kind;
        *ret = buf;
        return 0;
}

struct vk_buf *vk_buf_free(struct vk_ctx *ctx, struct vk_buf *buf) {
        if (!buf)
                return NULL;
        (void) block_give(&ctx->blocks[buf->kind][buf->block], buf->view.offset, align_up(buf->view.size, ctx->align));
        free(buf);
        return NULL;
}

uint64_t vk_mem_reserved(const struct vk_ctx *ctx, enum vk_mem_kind kind) {
        uint64_t s = 0;
        for (uint32_t i = 0; i < ctx->n_blocks[kind]; i++)
                s += ctx->blocks[kind][i].size;
        return s;
}

struct vk_view vk_view_sub(struct vk_view v, uint64_t offset, uint64_t size) {
        if (offset > v.size)
                offset = v.size;
        if (size > v.size - offset)
                size = v.size - offset;
        return (struct vk_view){v.buffer, v.offset + offset, size};
}

/* ---- Staging transfers ---- */

static int xfer_copy(struct vk_ctx *ctx, VkBuffer src, uint64_t src_off, VkBuffer dst, uint64_t dst_off, uint64_t n,
                     struct vkinfer_err *err) {
        VkCommandBufferBeginInfo bi = {
                .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
        };
        VkResult vr = vkBeginCommandBuffer(ctx->xfer_cmd, &bi);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkBeginCommandBuffer");
        /* Order after any compute work submitted before, and make the result
         * visible to the host. */
        VkMemoryBarrier mb = {
                .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT,
                .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        };
        vkCmdPipelineBarrier(ctx->xfer_cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
                             &mb, 0, NULL, 0, NULL);
        VkBufferCopy region = {.srcOffset = src_off, .dstOffset = dst_off, .size = n};
        vkCmdCopyBuffer(ctx->xfer_cmd, src, dst, 1, &region);
        VkMemoryBarrier mb2 = {
                .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT,
        };
        vkCmdPipelineBarrier(ctx->xfer_cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb2, 0, NULL, 0,
                             NULL);
        vr = vkEndCommandBuffer(ctx->xfer_cmd);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkEndCommandBuffer");
        VkSubmitInfo si = {
                .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                .commandBufferCount = 1,
                .pCommandBuffers = &ctx->xfer_cmd,
        };
        vr = vkQueueSubmit(ctx->queue, 1, &si, ctx->xfer_fence);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkQueueSubmit (transfer)");
        vr = vkWaitForFences(ctx->device, 1, &ctx->xfer_fence, VK_TRUE, UINT64_MAX);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkWaitForFences (transfer)");
        vr = vkResetFences(ctx->device, 1, &ctx->xfer_fence);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkResetFences");
        return 0;
}

int vk_upload(struct vk_ctx *ctx, struct vk_view dst, const void *src, uint64_t size, struct vkinfer_err *err) {
        if (size > dst.size)
                return err_set(err, -EINVAL, "upload of %llu bytes into a %llu-byte view", (unsigned long long) size,
                               (unsigned long long) dst.size);
        const uint8_t *p = src;
        for (uint64_t done = 0; done < size;) {
                uint64_t n = size - done < STAGING_SIZE ? size - done : STAGING_SIZE;
                memcpy(ctx->staging->map, p + done, n);
                int r = xfer_copy(ctx, ctx->staging->view.buffer, ctx->staging->view.offset, dst.buffer,
                                  dst.offset + done, n, err);
                if (r < 0)
                        return r;
                done += n;
        }
        return 0;
}

int vk_download(struct vk_ctx *ctx, struct vk_view src, void *dst, uint64_t size, struct vkinfer_err *err) {
        if (size > src.size)
                return err_set(err, -EINVAL, "download of %llu bytes from a %llu-byte view", (unsigned long long) size,
                               (unsigned long long) src.size);
        uint8_t *p = dst;
        for (uint64_t done = 0; done < size;) {
                uint64_t n = size - done < STAGING_SIZE ? size - done : STAGING_SIZE;
                int r = xfer_copy(ctx, src.buffer, src.offset + done, ctx->staging->view.buffer,
                                  ctx->staging->view.offset, n, err);
                if (r < 0)
                        return r;
                memcpy(p + done, ctx->staging->map, n);
                done += n;
        }
        return 0;
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

int vk_measure_copy_bandwidth(struct vk_ctx *ctx, uint64_t bytes, uint32_t reps, double *ret_bps,
                              struct vkinfer_err *err) {
        struct vk_buf *a = NULL, *b = NULL;
        struct vk_seq *s = NULL;
        bytes = align_up(bytes ? bytes : 1, 4);
        reps = reps ? reps : 1;
        int r = vk_buf_alloc(ctx, VK_MEM_DEVICE, bytes, &a, err);
        if (r >= 0)
                r = vk_buf_alloc(ctx, VK_MEM_DEVICE, bytes, &b, err);
        if (r >= 0)
                r = vk_seq_create(ctx, &s, err);
        if (r >= 0)
                r = vk_seq_begin(s, err);
        if (r >= 0)
                r = vk_seq_fill(s, a->view, 0x3f800000u, err);
        for (uint32_t i = 0; r >= 0 && i < reps; i++)
                r = vk_seq_copy(s, i % 2 ? b->view : a->view, i % 2 ? a->view : b->view, bytes, err);
        if (r >= 0)
                r = vk_seq_end(s, err);
        if (r >= 0)
                r = vk_seq_run(s, err); /* warm-up: first touch of the pages */
        double t0 = now_s();
        if (r >= 0)
                r = vk_seq_run(s, err);
        double dt = now_s() - t0;
        vk_seq_destroy(s);
        vk_buf_free(ctx, a);
        vk_buf_free(ctx, b);
        if (r < 0)
                return r;
        /* Each copy reads and writes `bytes`. */
        *ret_bps = dt > 0 ? 2.0 * (double) bytes * reps / dt : 0;
        return 0;
}
