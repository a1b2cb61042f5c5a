/* Instance, device probing and selection, the context's life cycle, and the
 * validation-message counter. */
#include "vk/vk-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

const char *vk_device_type_string(VkPhysicalDeviceType t) {
        switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
        default: return "other";
        }
}

/* Higher is preferred: discrete > integrated > virtual > CPU > other. */
static int type_rank(VkPhysicalDeviceType t) {
        switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
        default: return 0;
        }
}

/* ---- Validation messages ---- */

static VKAPI_ATTR VkBool32 VKAPI_CALL debug_cb(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                               VkDebugUtilsMessageTypeFlagsEXT types,
                                               const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
        /* Only validation messages count: the loader's general messages are noise. */
        if (!(types & VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT))
                return VK_FALSE;
        atomic_fetch_add((atomic_uint_fast64_t *) user, 1);
        /* The one place library code prints: the brief of a validation run is
         * to show every message as it happens. */
        fprintf(stderr, "vkinfer: validation: %s\n", data && data->pMessage ? data->pMessage : "(no message)");
        return VK_FALSE;
}

static bool has_layer(const char *name) {
        uint32_t n = 0;
        if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS)
                return false;
        VkLayerProperties *l = calloc(n ? n : 1, sizeof(*l));
        if (!l)
                return false;
        bool found = false;
        if (vkEnumerateInstanceLayerProperties(&n, l) == VK_SUCCESS)
                for (uint32_t i = 0; i < n && !found; i++)
                        found = strcmp(l[i].layerName, name) == 0;
        free(l);
        return found;
}

static bool validation_wanted(const struct vk_opts *o) {
        if (o && o->validation)
                return o->validation > 0;
        const char *e = getenv("VKINFER_VALIDATION");
        return e && strcmp(e, "1") == 0;
}

/* Vulkan 1.3 where the loader has it (for 1.3 limits such as maxBufferSize),
 * else 1.2, the least vkinfer needs. */
static uint32_t instance_api(void) {
        uint32_t v = 0;
        if (vkEnumerateInstanceVersion(&v) != VK_SUCCESS || v < VK_API_VERSION_1_3)
                return VK_API_VERSION_1_2;
        return VK_API_VERSION_1_3;
}

/* An instance; with `counter`, the validation layer and a messenger counting into it. */
static int instance_create(atomic_uint_fast64_t *counter, VkInstance *ret_instance,
                           VkDebugUtilsMessengerEXT *ret_messenger, struct vkinfer_err *err) {
        VkApplicationInfo app = {
                .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                .pApplicationName = "vkinfer",
                .pEngineName = "vkinfer",
                .apiVersion = instance_api(),
        };
        const char *layers[] = {VALIDATION_LAYER};
        const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME};
        if (counter && !has_layer(VALIDATION_LAYER))
                return err_set(err, -ENOENT,
                               "validation requested (VKINFER_VALIDATION=1) but %s is not installed "
                               "(Debian package vulkan-validationlayers)", VALIDATION_LAYER);
        VkDebugUtilsMessengerCreateInfoEXT dci = {
                .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
                .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                   VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
                .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
                .pfnUserCallback = debug_cb,
                .pUserData = counter,
        };
        /* Synchronization validation too: lavapipe runs dispatches in order,
         * so a missing barrier would otherwise only show on a real GPU. */
        VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
        VkValidationFeaturesEXT vf = {
                .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                .pNext = &dci,
                .enabledValidationFeatureCount = 1,
                .pEnabledValidationFeatures = enables,
        };
        VkInstanceCreateInfo ci = {
                .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                .pNext = counter ? &vf : NULL, /* the messenger also catches instance creation itself */
                .pApplicationInfo = &app,
                .enabledLayerCount = counter ? 1 : 0,
                .ppEnabledLayerNames = layers,
                .enabledExtensionCount = counter ? 2 : 0,
                .ppEnabledExtensionNames = exts,
        };
        VkInstance inst;
        VkResult r = vkCreateInstance(&ci, NULL, &inst);
        if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
                return err_set(err, -ENODEV, "no Vulkan driver is installed (vkCreateInstance: %s)",
                               vk_result_string(r));
        if (r != VK_SUCCESS)
                return vk_err(err, r, "vkCreateInstance");
        VkDebugUtilsMessengerEXT m = VK_NULL_HANDLE;
        if (counter) {
                PFN_vkCreateDebugUtilsMessengerEXT create =
                        (PFN_vkCreateDebugUtilsMessengerEXT) vkGetInstanceProcAddr(inst, "vkCreateDebugUtilsMessengerEXT");
                r = create ? create(inst, &dci, NULL, &m) : VK_ERROR_EXTENSION_NOT_PRESENT;
                if (r != VK_SUCCESS) {
                        vkDestroyInstance(inst, NULL);
                        return vk_err(err, r, "vkCreateDebugUtilsMessengerEXT");
                }
        }
        *ret_instance = inst;
        *ret_messenger = m;
        return 0;
}

static void instance_destroy(VkInstance inst, VkDebugUtilsMessengerEXT m) {
        if (!inst)
                return;
        if (m) {
                PFN_vkDestroyDebugUtilsMessengerEXT destroy =
                        (PFN_vkDestroyDebugUtilsMessengerEXT) vkGetInstanceProcAddr(inst, "vkDestroyDebugUtilsMessengerEXT");
                if (destroy)
                        destroy(inst, m, NULL);
        }
        vkDestroyInstance(inst, NULL);
}

/* ---- Probing ---- */

static bool has_ext(const VkExtensionProperties *e, uint32_t n, const char *name) {
        for (uint32_t i = 0; i < n; i++)
                if (strcmp(e[i].extensionName, name) == 0)
                        return true;
        return false;
}

static int compute_queue_family(VkPhysicalDevice pd) {
        uint32_t n = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
        VkQueueFamilyProperties q[32];
        n = n > 32 ? 32 : n;
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
        for (uint32_t i = 0; i < n; i++)
                if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
                        return (int) i;
        return -1;
}

static void why_not(struct vk_device_info *info, const char *what) {
        if (info->suitable) {
                info->suitable = false;
                snprintf(info->why_not, sizeof(info->why_not), "requires %s", what);
        }
}

static void probe(VkPhysicalDevice pd, uint32_t index, struct vk_device_info *info, uint32_t require) {
        memset(info, 0, sizeof(*info));
        info->index = index;
        info->suitable = true;

        VkPhysicalDeviceProperties p0;
        vkGetPhysicalDeviceProperties(pd, &p0);
        info->api_version = p0.apiVersion;
        bool v12 = p0.apiVersion >= VK_API_VERSION_1_2;

        uint32_t n_ext = 0;
        vkEnumerateDeviceExtensionProperties(pd, NULL, &n_ext, NULL);
        VkExtensionProperties *ext = calloc(n_ext ? n_ext : 1, sizeof(*ext));
        if (ext && vkEnumerateDeviceExtensionProperties(pd, NULL, &n_ext, ext) != VK_SUCCESS)
                n_ext = 0;
        if (!ext)
                n_ext = 0;
        info->memory_budget = has_ext(ext, n_ext, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
        info->coopmat = has_ext(ext, n_ext, "VK_KHR_cooperative_matrix");
        free(ext);

        bool v13 = p0.apiVersion >= VK_API_VERSION_1_3 && instance_api() >= VK_API_VERSION_1_3;
        VkPhysicalDeviceVulkan13Properties p13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_PROPERTIES};
        VkPhysicalDeviceVulkan12Properties p12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES,
                                                  .pNext = v13 ? &p13 : NULL};
        VkPhysicalDeviceVulkan11Properties p11 = {
                .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES,
                .pNext = v12 ? &p12 : NULL,
        };
        VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                          .pNext = v12 ? &p11 : NULL};
        vkGetPhysicalDeviceProperties2(pd, &p2);
        const VkPhysicalDeviceLimits *lim = &p2.properties.limits;
        snprintf(info->name, sizeof(info->name), "%s", p2.properties.deviceName);
        snprintf(info->driver, sizeof(info->driver), "%s", v12 ? p12.driverName : "");
        info->type = p2.properties.deviceType;
        info->vendor_id = p2.properties.vendorID;
        info->device_id = p2.properties.deviceID;
        memcpy(info->uuid, p2.properties.pipelineCacheUUID, VK_UUID_SIZE);
        info->max_storage_range = lim->maxStorageBufferRange;
        info->min_storage_align = (uint32_t) lim->minStorageBufferOffsetAlignment;
        memcpy(info->max_wg_count, lim->maxComputeWorkGroupCount, sizeof(info->max_wg_count));
        info->max_wg_invocations = lim->maxComputeWorkGroupInvocations;
        info->max_shared = lim->maxComputeSharedMemorySize;
        info->max_push = lim->maxPushConstantsSize;
        if (v12) {
                info->subgroup_size = p11.subgroupSize;
                info->subgroup_ops = p11.subgroupSupportedOperations;
                info->subgroup_arith = (p11.subgroupSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                                       (p11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                                       (p11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT);
                info->max_alloc = p11.maxMemoryAllocationSize;
                info->max_buffer_size = v13 ? p13.maxBufferSize : UINT64_MAX;

                VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
                VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                                        .pNext = &f12};
                VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
                vkGetPhysicalDeviceFeatures2(pd, &f2);
                info->storage16 = f11.storageBuffer16BitAccess;
                info->float16 = f12.shaderFloat16;
                info->int8 = f12.shaderInt8;
                info->bda = f12.bufferDeviceAddress;
                info->int64 = f2.features.shaderInt64;
        }

        VkPhysicalDeviceMemoryBudgetPropertiesEXT budget = {
                .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
        VkPhysicalDeviceMemoryProperties2 m2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
                                                .pNext = info->memory_budget ? &budget : NULL};
        vkGetPhysicalDeviceMemoryProperties2(pd, &m2);
        info->n_heaps = m2.memoryProperties.memoryHeapCount;
        if (info->n_heaps > VK_MAX_HEAPS)
                info->n_heaps = VK_MAX_HEAPS;
        for (uint32_t i = 0; i < info->n_heaps; i++) {
                info->heaps[i].size = m2.memoryProperties.memoryHeaps[i].size;
                info->heaps[i].device_local = m2.memoryProperties.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
                if (info->memory_budget) {
                        info->heaps[i].budget = budget.heapBudget[i];
                        info->heaps[i].usage = budget.heapUsage[i];
                }
        }

        /* What vkinfer's shaders require; the first one missing is named. */
        char ver[64];
        snprintf(ver, sizeof(ver), "Vulkan 1.2 (the device has %u.%u)", VK_API_VERSION_MAJOR(p0.apiVersion),
                 VK_API_VERSION_MINOR(p0.apiVersion));
        if (!v12)
                why_not(info, ver);
        if (compute_queue_family(pd) < 0)
                why_not(info, "a queue family with compute");
        if (v12 && !info->subgroup_arith)
                why_not(info, "subgroup basic + arithmetic operations in compute shaders");
        if (info->max_shared < 16384)
                why_not(info, "16 KiB of compute shared memory");
        if (info->max_wg_invocations < 256)
                why_not(info, "256 invocations per workgroup");
        /* What the caller asked for on top. */
        static const struct {
                uint32_t bit;
                const char *name;
        } opt[] = {
                {VK_FEATURE_STORAGE16, "storageBuffer16BitAccess"}, {VK_FEATURE_FLOAT16, "shaderFloat16"},
                {VK_FEATURE_INT8, "shaderInt8"},                    {VK_FEATURE_INT64, "shaderInt64"},
                {VK_FEATURE_BDA, "bufferDeviceAddress"},            {VK_FEATURE_COOPMAT, "VK_KHR_cooperative_matrix"},
        };
        bool have[] = {info->storage16, info->float16, info->int8, info->int64, info->bda, info->coopmat};
        for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
                if ((require & opt[i].bit) && !have[i])
                        why_not(info, opt[i].name);
}

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char) *s))
                        return false;
        return true;
}

/* The device the selector (index or name substring) or the ranking picks:
 * its list index, -ENODEV when the selector matches nothing. */
static int choose(const struct vk_device_info *infos, uint32_t n, const char *sel, struct vkinfer_err *err) {
        if (sel && *sel) {
                for (uint32_t i = 0; i < n; i++) {
                        bool match = all_digits(sel) ? infos[i].index == strtoul(sel, NULL, 10)
                                                     : strcasestr(infos[i].name, sel) != NULL;
                        if (match)
                                return (int) i;
                }
                return err_set(err, -ENODEV, "no Vulkan device matches '%s' (VKINFER_DEVICE or device option)", sel);
        }
        int best = -1;
        for (uint32_t i = 0; i < n; i++)
                if (infos[i].suitable && (best < 0 || type_rank(infos[i].type) > type_rank(infos[best].type)))
                        best = (int) i;
        if (best < 0)
                return err_set(err, -ENODEV, "no Vulkan device can run vkinfer%s%s", n ? ": " : "",
                               n ? infos[0].why_not : " (none found)");
        return best;
}

static const char *selector(const struct vk_opts *o) {
        const char *e = getenv("VKINFER_DEVICE");
        if (e && *e)
                return e;
        return o ? o->device : NULL;
}

static int enumerate(VkInstance inst, uint32_t require, VkPhysicalDevice **ret_pds, struct vk_device_info **ret_infos,
                     uint32_t *ret_n, struct vkinfer_err *err) {
        uint32_t n = 0;
        VkResult r = vkEnumeratePhysicalDevices(inst, &n, NULL);
        if (r != VK_SUCCESS)
                return vk_err(err, r, "vkEnumeratePhysicalDevices");
        if (n == 0)
                return err_set(err, -ENODEV, "no Vulkan device found");
        VkPhysicalDevice *pds = calloc(n, sizeof(*pds));
        struct vk_device_info *infos = calloc(n, sizeof(*infos));
        if (!pds || !infos) {
                free(pds);
                free(infos);
                return err_set(err, -ENOMEM, "out of memory listing devices");
        }
        r = vkEnumeratePhysicalDevices(inst, &n, pds);
        if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
                free(pds);
                free(infos);
                return vk_err(err, r, "vkEnumeratePhysicalDevices");
        }
        for (uint32_t i = 0; i < n; i++)
                probe(pds[i], i, &infos[i], require);
        *ret_pds = pds;
        *ret_infos = infos;
        *ret_n = n;
        return 0;
}

int vk_list_devices(const struct vk_opts *opts, struct vk_device_info **ret_infos, uint32_t *ret_n,
                    int *ret_chosen, struct vkinfer_err *err) {
        VkInstance inst;
        VkDebugUtilsMessengerEXT m;
        int r = instance_create(NULL, &inst, &m, err);
        if (r < 0)
                return r;
        VkPhysicalDevice *pds = NULL;
        struct vk_device_info *infos = NULL;
        uint32_t n = 0;
        r = enumerate(inst, opts ? opts->require : 0, &pds, &infos, &n, err);
        instance_destroy(inst, m);
        if (r < 0)
                return r;
        free(pds);
        struct vkinfer_err ignored;
        int c = choose(infos, n, selector(opts), &ignored);
        if (c >= 0 && !infos[c].suitable)
                c = -1;
        *ret_infos = infos;
        *ret_n = n;
        *ret_chosen = c < 0 ? -1 : c;
        return 0;
}

/* ---- Context ---- */

static uint64_t env_u64(const char *name, uint64_t def) {
        const char *e = getenv(name);
        if (!e || !*e)
                return def;
        char *end;
        unsigned long long v = strtoull(e, &end, 0);
        return *end ? def : v;
}

static int device_create(struct vk_ctx *ctx, struct vkinfer_err *err) {
        const struct vk_device_info *info = &ctx->info;
        int qf = compute_queue_family(ctx->phys);
        float prio = 1.0f;
        VkDeviceQueueCreateInfo qci = {
                .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                .queueFamilyIndex = (uint32_t) qf,
                .queueCount = 1,
                .pQueuePriorities = &prio,
        };
        /* Enable what later shaders may use, when present; nothing here is required. */
        VkPhysicalDeviceVulkan12Features f12 = {
                .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                .shaderFloat16 = info->float16,
                .shaderInt8 = info->int8,
        };
        VkPhysicalDeviceVulkan11Features f11 = {
                .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                .pNext = &f12,
                .storageBuffer16BitAccess = info->storage16,
        };
        VkPhysicalDeviceFeatures2 f2 = {
                .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                .pNext = &f11,
                .features.shaderInt64 = info->int64,
        };
        const char *exts[1];
        uint32_t n_ext = 0;
        if (info->memory_budget)
                exts[n_ext++] = VK_EXT_MEMORY_BUDGET_EXTENSION_NAME;
        VkDeviceCreateInfo dci = {
                .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                .pNext = &f2,
                .queueCreateInfoCount = 1,
                .pQueueCreateInfos = &qci,
                .enabledExtensionCount = n_ext,
                .ppEnabledExtensionNames = exts,
        };
        VkResult vr = vkCreateDevice(ctx->phys, &dci, NULL, &ctx->device);
        if (vr != VK_SUCCESS)
                return vk_err(err, vr, "vkCreateDevice");
        ctx->queue_family = (uint32_t) qf;
        vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);
        return 0;
}

int vk_ctx_create(const struct vk_opts *opts, struct vk_ctx **ret, struct vkinfer_err *err) {
        struct vk_ctx *ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return err_set(err, -ENOMEM, "out of memory");
        if (opts)
                ctx->opts = *opts;
        atomic_init(&ctx->validation_count, 0);
        bool validation = validation_wanted(opts);
        int r = instance_create(validation ? &ctx->validation_count : NULL, &ctx->instance, &ctx->messenger, err);
        if (r < 0) {
                free(ctx);
                return r;
        }
        VkPhysicalDevice *pds = NULL;
        struct vk_device_info *infos = NULL;
        uint32_t n = 0;
        r = enumerate(ctx->instance, ctx->opts.require, &pds, &infos, &n, err);
        if (r < 0)
                goto fail;
        int c = choose(infos, n, selector(opts), err);
        if (c < 0) {
                r = c;
        } else if (!infos[c].suitable) {
                r = err_set(err, -ENOTSUP, "Vulkan device %u (%s) %s", infos[c].index, infos[c].name, infos[c].why_not);
        } else {
                ctx->phys = pds[c];
                ctx->info = infos[c];
        }
        free(pds);
        free(infos);
        if (r < 0)
                goto fail;

        ctx->max_range = ctx->info.max_storage_range;
        uint64_t ov = env_u64("VKINFER_MAX_STORAGE_RANGE", ctx->opts.max_storage_range);
        if (ov && ov < ctx->max_range)
                ctx->max_range = ov < 4096 ? 4096 : ov;
        /* Whole aligned units, so that split ranges start aligned. */
        ctx->max_range -= ctx->max_range % (ctx->info.min_storage_align ? ctx->info.min_storage_align : 1);

        r = device_create(ctx, err);
        if (r < 0)
                goto fail;
        r = vk_memory_init(ctx, err);
        if (r < 0)
                goto fail;
        r = vk_pipelines_init(ctx, err);
        if (r < 0)
                goto fail;
        vk_profile_init(ctx);
        *ret = ctx;
        return 0;
fail:
        vk_ctx_destroy(ctx);
        return r;
}

struct vk_ctx *vk_ctx_destroy(struct vk_ctx *ctx) {
        if (!ctx)
                return NULL;
        vk_ctx_profile_print(ctx, stderr);
        if (ctx->device) {
                vkDeviceWaitIdle(ctx->device);
                vk_pipelines_finish(ctx);
                vk_memory_finish(ctx);
                vkDestroyDevice(ctx->device, NULL);
        }
        instance_destroy(ctx->instance, ctx->messenger);
        free(ctx);
        return NULL;
}

const struct vk_device_info *vk_ctx_info(const struct vk_ctx *ctx) {
        return &ctx->info;
}

uint64_t vk_ctx_validation_count(const struct vk_ctx *ctx) {
        return atomic_load(&((struct vk_ctx *) ctx)->validation_count);
}

uint64_t vk_ctx_max_range(const struct vk_ctx *ctx) {
        return ctx->max_range;
}

VkDevice vk_ctx_device(const struct vk_ctx *ctx) {
        return ctx->device;
}

void vk_groups_linear(const struct vk_ctx *ctx, uint64_t n, uint32_t groups[3]) {
        uint64_t maxx = ctx->info.max_wg_count[0] ? ctx->info.max_wg_count[0] : 65535;
        if (maxx > 65535)
                maxx = 65535; /* keeps y small and wg_linear() exact */
        if (n == 0)
                n = 1;
        uint64_t x = n < maxx ? n : maxx;
        groups[0] = (uint32_t) x;
        groups[1] = (uint32_t) ((n + x - 1) / x);
        groups[2] = 1;
}
