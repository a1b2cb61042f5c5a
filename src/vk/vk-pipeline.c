/* Compute pipelines from the embedded SPIR-V, kept in the context, and the
 * persistent VkPipelineCache file that makes the second start fast. */
#include "vk/vk-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vk/shaders.h"

static int mkdir_p(const char *path) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s", path);
        for (char *p = tmp + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static void cache_dir(const struct vk_ctx *ctx, char *buf, size_t n) {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (ctx->opts.cache_dir && *ctx->opts.cache_dir)
                snprintf(buf, n, "%s", ctx->opts.cache_dir);
        else if (xdg && *xdg == '/')
                snprintf(buf, n, "%s/vkinfer", xdg);
        else if (home && *home)
                snprintf(buf, n, "%s/.cache/vkinfer", home);
        else
                buf[0] = 0;
}

/* True when data starts with a cache header for this very device; drivers
 * should check it themselves, but not all do. */
static bool header_matches(const struct vk_ctx *ctx, const uint8_t *data, size_t size) {
        uint32_t h[4];
        if (size < 16 + VK_UUID_SIZE)
                return false;
        memcpy(h, data, sizeof(h));
        return h[0] >= 16 + VK_UUID_SIZE && h[1] == (uint32_t) VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
               h[2] == ctx->info.vendor_id && h[3] == ctx->info.device_id &&
               memcmp(data + 16, ctx->info.uuid, VK_UUID_SIZE) == 0;
}

int vk_pipelines_init(struct vk_ctx *ctx, struct vkinfer_err *err) {
        char dir[400];
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        cache_dir(ctx, dir, sizeof(dir));
        ctx->cache_path[0] = 0;
        if (!ctx->opts.no_pipeline_cache && dir[0]) {
                char uuid[2 * VK_UUID_SIZE + 1];
                for (unsigned i = 0; i < VK_UUID_SIZE; i++)
                        snprintf(uuid + 2 * i, 3, "%02x", ctx->info.uuid[i]);
                snprintf(ctx->cache_path, sizeof(ctx->cache_path), "%s/pipelines-%04x-%04x-%s.bin", dir,
                         ctx->info.vendor_id, ctx->info.device_id, uuid);
                struct vkinfer_err ignored;
                /* A missing or unreadable cache only costs time: start empty. */
                if (read_file(ctx->cache_path, &data, &size, &ignored) < 0 ||
                    !header_matches(ctx, (const uint8_t *) data, size))
                        size = 0;
        }
        VkPipelineCacheCreateInfo ci = {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                .initialDataSize = size,
                .pInitialData = size ? data : NULL,
        };
        VkResult vr = vkCreatePipelineCache(ctx->device, &ci, NULL, &ctx->cache);
        if (vr != VK_SUCCESS && size) { /* a corrupt file: start empty */
                ci.initialDataSize = 0;
                ci.pInitialData = NULL;
                size = 0;
                vr = vkCreatePipelineCache(ctx->device, &ci, NULL, &ctx->cache);
        }
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkCreatePipelineCache");
        ctx->cache_loaded_size = size;
        ctx->cache_saved_size = size;
        return 0;
}

int vk_pipeline_cache_save(struct vk_ctx *ctx, struct vkinfer_err *err) {
        if (!ctx->cache || !ctx->cache_path[0])
                return 0;
        size_t size = 0;
        VkResult vr = vkGetPipelineCacheData(ctx->device, ctx->cache, &size, NULL);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkGetPipelineCacheData");
        if (size == ctx->cache_saved_size)
                return 0; /* nothing new */
        _cleanup_free_ uint8_t *data = malloc(size ? size : 1);
        if (!data)
                return err_set(err, -ENOMEM, "out of memory");
        vr = vkGetPipelineCacheData(ctx->device, ctx->cache, &size, data);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkGetPipelineCacheData");
        char dir[512], tmp[600];
        snprintf(dir, sizeof(dir), "%s", ctx->cache_path);
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = 0;
        int r = mkdir_p(dir);
        if (r < 0)
                return err_set(err, r, "cannot create '%s': %s", dir, strerror(-r));
        /* Write then rename, so a concurrent reader never sees half a file. */
        snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", ctx->cache_path, (long) getpid());
        FILE *f = fopen(tmp, "wb");
        if (!f)
                return err_set(err, -errno, "cannot write '%s': %s", tmp, strerror(errno));
        bool ok = fwrite(data, 1, size, f) == size;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, ctx->cache_path) < 0) {
                r = -errno ? -errno : -EIO;
                unlink(tmp);
                return err_set(err, r, "cannot write '%s'", ctx->cache_path);
        }
        ctx->cache_saved_size = size;
        return 0;
}

const char *vk_pipeline_cache_path(const struct vk_ctx *ctx) {
        return ctx->cache_path;
}

size_t vk_pipeline_cache_loaded(const struct vk_ctx *ctx) {
        return ctx->cache_loaded_size;
}

static void pipeline_free(struct vk_ctx *ctx, struct vk_pipeline *p) {
        if (p->pipeline)
                vkDestroyPipeline(ctx->device, p->pipeline, NULL);
        if (p->layout)
                vkDestroyPipelineLayout(ctx->device, p->layout, NULL);
        if (p->set_layout)
                vkDestroyDescriptorSetLayout(ctx->device, p->set_layout, NULL);
        free(p);
}

void vk_pipelines_finish(struct vk_ctx *ctx) {
        struct vkinfer_err ignored;
        (void) vk_pipeline_cache_save(ctx, &ignored); /* best effort: only costs time next start */
        while (ctx->pipelines) {
                struct vk_pipeline *n = ctx->pipelines->next;
                pipeline_free(ctx, ctx->pipelines);
                ctx->pipelines = n;
        }
        if (ctx->cache)
                vkDestroyPipelineCache(ctx->device, ctx->cache, NULL);
        ctx->cache = VK_NULL_HANDLE;
}

uint32_t vk_pipeline_wg(const struct vk_pipeline *p) {
        return p->n_spec ? p->spec[0] : 1;
}

int vk_pipeline_get(struct vk_ctx *ctx, const char *shader, uint32_t n_bindings, uint32_t push_size,
                    const uint32_t *spec, uint32_t n_spec, struct vk_pipeline **ret, struct vkinfer_err *err) {
        if (n_bindings > VK_MAX_BINDINGS || n_spec > VK_MAX_SPEC || strlen(shader) >= sizeof(((struct vk_pipeline *) 0)->shader))
                return err_set(err, -EINVAL, "pipeline '%s': too many bindings or constants", shader);
        if (push_size > ctx->info.max_push)
                return err_set(err, -ENOTSUP, "pipeline '%s' needs %u bytes of push constants, the device has %u",
                               shader, push_size, ctx->info.max_push);
        for (struct vk_pipeline *p = ctx->pipelines; p; p = p->next)
                if (strcmp(p->shader, shader) == 0 && p->n_bindings == n_bindings && p->push_size == push_size &&
                    p->n_spec == n_spec && (n_spec == 0 || memcmp(p->spec, spec, n_spec * sizeof(*spec)) == 0)) {
                        *ret = p;
                        return 0;
                }
        const struct vk_shader_blob *blob = vk_shader_find(shader);
        if (!blob)
                return err_set(err, -ENOENT, "no embedded shader named '%s'", shader);

        struct vk_pipeline *p = calloc(1, sizeof(*p));
        if (!p)
                return err_set(err, -ENOMEM, "out of memory");
        snprintf(p->shader, sizeof(p->shader), "%s", shader);
        p->n_bindings = n_bindings;
        p->push_size = push_size;
        p->n_spec = n_spec;
        if (n_spec)
                memcpy(p->spec, spec, n_spec * sizeof(*spec));

        VkDescriptorSetLayoutBinding b[VK_MAX_BINDINGS];
        for (uint32_t i = 0; i < n_bindings; i++)
                b[i] = (VkDescriptorSetLayoutBinding){
                        .binding = i,
                        .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                        .descriptorCount = 1,
                        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
                };
        VkDescriptorSetLayoutCreateInfo dci = {
                .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                .bindingCount = n_bindings,
                .pBindings = b,
        };
        VkResult vr = vkCreateDescriptorSetLayout(ctx->device, &dci, NULL, &p->set_layout);
        VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = push_size};
        VkPipelineLayoutCreateInfo lci = {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                .setLayoutCount = 1,
                .pSetLayouts = &p->set_layout,
                .pushConstantRangeCount = push_size ? 1 : 0,
                .pPushConstantRanges = &pcr,
        };
        if (vr == VK_SUCCESS)
                vr = vkCreatePipelineLayout(ctx->device, &lci, NULL, &p->layout);
        VkShaderModule mod = VK_NULL_HANDLE;
        VkShaderModuleCreateInfo mci = {
                .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                .codeSize = blob->size,
                .pCode = blob->code,
        };
        if (vr == VK_SUCCESS)
                vr = vkCreateShaderModule(ctx->device, &mci, NULL, &mod);
        VkSpecializationMapEntry me[VK_MAX_SPEC];
        for (uint32_t i = 0; i < n_spec; i++)
                me[i] = (VkSpecializationMapEntry){.constantID = i, .offset = 4 * i, .size = 4};
        VkSpecializationInfo si = {.mapEntryCount = n_spec, .pMapEntries = me, .dataSize = 4 * n_spec, .pData = p->spec};
        VkComputePipelineCreateInfo pci = {
                .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
                .stage = {
                        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                        .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                        .module = mod,
                        .pName = "main",
                        .pSpecializationInfo = n_spec ? &si : NULL,
                },
                .layout = p->layout,
        };
        if (vr == VK_SUCCESS)
                vr = vkCreateComputePipelines(ctx->device, ctx->cache, 1, &pci, NULL, &p->pipeline);
        if (mod)
                vkDestroyShaderModule(ctx->device, mod, NULL);
        if (vr != VK_SUCCESS) {
                pipeline_free(ctx, p);
                char what[96];
                snprintf(what, sizeof(what), "creating pipeline '%s'", shader);
                return vk_err(err, vr, what);
        }
        p->next = ctx->pipelines;
        ctx->pipelines = p;
        *ret = p;
        return 0;
}
