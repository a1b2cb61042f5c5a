/* The Vulkan core: device listing and selection, the validation counter,
 * block sub-allocation, staged transfers larger than the staging buffer,
 * replaying a recorded sequence with per-step values, the storage-range
 * limit, the pipeline cache file and VkResult mapping. */
#include <sys/stat.h>

#include "ops/bench.h"
#include "vk-test.h"

static void test_devices(struct vk_ctx *ctx) {
        struct vk_device_info *infos = NULL;
        uint32_t n = 0;
        int chosen = -1;
        int r = vk_list_devices(NULL, &infos, &n, &chosen, &test_err);
        CHECK_OK(r, test_err);
        CHECK(n >= 1 && chosen >= 0 && chosen < (int) n, "n %u chosen %d", n, chosen);
        const struct vk_device_info *mine = vk_ctx_info(ctx);
        if (r >= 0 && chosen >= 0)
                CHECK(strcmp(infos[chosen].name, mine->name) == 0, "listed %s, opened %s", infos[chosen].name, mine->name);
        free(infos);
        CHECK(mine->subgroup_size >= 1 && mine->subgroup_arith, "subgroup size %u", mine->subgroup_size);
        CHECK(mine->suitable && mine->n_heaps >= 1, "heaps %u", mine->n_heaps);
        CHECK(vk_ctx_max_range(ctx) <= mine->max_storage_range && vk_ctx_max_range(ctx) > 0, "max range");

        /* Selection by index and by name, through the environment. */
        char idx[16];
        snprintf(idx, sizeof(idx), "%u", mine->index);
        setenv("VKINFER_DEVICE", idx, 1);
        struct vk_ctx *c2 = NULL;
        r = vk_ctx_create(NULL, &c2, &test_err);
        CHECK_OK(r, test_err);
        test_ctx_done(c2);
        char part[8];
        snprintf(part, sizeof(part), "%.4s", mine->name);
        setenv("VKINFER_DEVICE", part, 1);
        c2 = NULL;
        r = vk_ctx_create(NULL, &c2, &test_err);
        CHECK_OK(r, test_err);
        if (c2)
                CHECK(strstr(vk_ctx_info(c2)->name, part) != NULL, "'%s' chose %s", part, vk_ctx_info(c2)->name);
        test_ctx_done(c2);
        setenv("VKINFER_DEVICE", "no-such-device-xyz", 1);
        c2 = NULL;
        r = vk_ctx_create(NULL, &c2, &test_err);
        CHECK(r == -ENODEV && strstr(test_err.msg, "no-such-device-xyz"), "%d %s", r, test_err.msg);
        unsetenv("VKINFER_DEVICE");
        /* opts.device works too when the environment says nothing. */
        struct vk_opts o = {.device = "no-such-device-xyz"};
        r = vk_ctx_create(&o, &c2, &test_err);
        CHECK(r == -ENODEV, "opts.device ignored: %d", r);
}

/* Invalid API use must be counted: this is what fails every gpu test. */
static void test_validation_counter(void) {
        struct vk_opts o = {.validation = 1};
        struct vk_ctx *c = test_ctx(&o);
        CHECK(vk_ctx_validation_count(c) == 0, "messages before anything happened");
        VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = 64, .usage = 0};
        VkBuffer b = VK_NULL_HANDLE;
        fprintf(stderr, "(a validation message is expected next)\n");
        if (vkCreateBuffer(vk_ctx_device(c), &bci, NULL, &b) == VK_SUCCESS)
                vkDestroyBuffer(vk_ctx_device(c), b, NULL);
        CHECK(vk_ctx_validation_count(c) >= 1, "invalid usage not counted");
        vk_ctx_destroy(c);
}

static void test_allocator(void) {
        struct vk_opts o = {.block_size = 1 << 20};
        struct vk_ctx *c = test_ctx(&o);
        struct test_rng rng = {42};
        enum { N = 64 };
        struct vk_buf *b[N] = {0};
        uint32_t sizes[N];
        for (int i = 0; i < N; i++) {
                sizes[i] = (uint32_t) (test_rng_next(&rng) % 40000) + 1;
                int r = vk_buf_alloc(c, VK_MEM_DEVICE, sizes[i], &b[i], &test_err);
                CHECK_OK(r, test_err);
                CHECK(b[i]->view.offset % vk_ctx_info(c)->min_storage_align == 0, "misaligned");
        }
        uint64_t reserved = vk_mem_reserved(c, VK_MEM_DEVICE);
        CHECK(reserved <= 4 << 20, "%llu bytes reserved for ~1.3 MB", (unsigned long long) reserved);
        /* Free every other one, allocate them again: no new block. */
        for (int i = 0; i < N; i += 2)
                b[i] = vk_buf_free(c, b[i]);
        for (int i = 0; i < N; i += 2)
                CHECK_OK(vk_buf_alloc(c, VK_MEM_DEVICE, sizes[i], &b[i], &test_err), test_err);
        CHECK(vk_mem_reserved(c, VK_MEM_DEVICE) == reserved, "freed ranges not reused");
        /* Live buffers never overlap: fill each with its own pattern, read all back. */
        for (int i = 0; i < N; i++) {
                uint32_t *d = malloc(sizes[i] + 4);
                for (uint32_t j = 0; j < (sizes[i] + 3) / 4; j++)
                        d[j] = (uint32_t) i * 0x01010101u;
                CHECK_OK(vk_upload(c, b[i]->view, d, sizes[i], &test_err), test_err);
                free(d);
        }
        int bad = 0;
        for (int i = 0; i < N; i++) {
                uint8_t *d = malloc(sizes[i]);
                CHECK_OK(vk_download(c, b[i]->view, d, sizes[i], &test_err), test_err);
                for (uint32_t j = 0; j < sizes[i]; j++)
                        bad += d[j] != (uint8_t) i;
                free(d);
        }
        CHECK(bad == 0, "%d bytes overwritten by another buffer", bad);
        /* A request larger than a block gets its own. */
        struct vk_buf *big = NULL;
        CHECK_OK(vk_buf_alloc(c, VK_MEM_DEVICE, 3 << 20, &big, &test_err), test_err);
        for (int i = 0; i < N; i++)
                vk_buf_free(c, b[i]);
        vk_buf_free(c, big);
        vk_buf_free(c, NULL);
        struct vk_buf *huge = NULL;
        int r = vk_buf_alloc(c, VK_MEM_DEVICE, UINT64_MAX / 4, &huge, &test_err);
        CHECK(r == -E2BIG && huge == NULL && strstr(test_err.msg, "max"), "%d %s", r, test_err.msg);
        test_ctx_done(c);
}

/* More than the 8 MiB staging buffer, at an odd size. */
static void test_transfer(struct vk_ctx *ctx) {
        size_t n = (9u << 20) + 12;
        uint8_t *a = malloc(n), *b = malloc(n);
        for (size_t i = 0; i < n; i++)
                a[i] = (uint8_t) (i * 7 + (i >> 13));
        struct vk_buf *buf = test_buf(ctx, a, n);
        memset(b, 0, n);
        test_read(ctx, buf, b, n);
        CHECK(memcmp(a, b, n) == 0, "staged round trip differs");
        CHECK(vk_upload(ctx, buf->view, a, n + 4096, &test_err) == -EINVAL, "oversized upload accepted");
        vk_buf_free(ctx, buf);
        free(a);
        free(b);
}

/* Record a += p[0] once; replay it with p changed through its mapping. */
static void test_replay(struct vk_ctx *ctx) {
        enum { N = 1000 };
        float a0[N], a[N];
        struct test_rng rng = {7};
        test_fill(&rng, a0, N, 1.0f);
        struct vk_buf *ba = test_buf(ctx, a0, sizeof(a0)), *p = NULL;
        CHECK_OK(vk_buf_alloc(ctx, VK_MEM_HOST, 4, &p, &test_err), test_err);
        CHECK(p && p->map, "host buffer not mapped");
        struct vk_seq *s = test_seq(ctx);
        CHECK_OK(op_add(s, ba->view, p->view, ba->view, N, 1, &test_err), test_err);
        CHECK_OK(op_scale(s, ba->view, ba->view, N, 2.0f, &test_err), test_err);
        CHECK_OK(vk_seq_end(s, &test_err), test_err);
        float steps[3] = {1.0f, -0.5f, 0.25f};
        for (int k = 0; k < 3; k++) {
                memcpy(p->map, &steps[k], 4);
                CHECK_OK(vk_seq_run(s, &test_err), test_err);
                for (int i = 0; i < N; i++)
                        a0[i] = (a0[i] + steps[k]) * 2.0f;
        }
        test_read(ctx, ba, a, sizeof(a));
        test_close("replay", a, a0, N, 1e-6);
        /* Submitting without a recording is refused. */
        CHECK_OK(vk_seq_begin(s, &test_err), test_err);
        CHECK(vk_seq_submit(s, &test_err) == -EINVAL, "submitted while recording");
        vk_seq_destroy(s);
        vk_buf_free(ctx, ba);
        vk_buf_free(ctx, p);
}

/* Views inside larger buffers, bad views refused with their name, and two
 * sequences in flight at once: B reads what A wrote (the barrier before
 * each command orders it after earlier submissions). */
static void test_views_and_queues(struct vk_ctx *ctx) {
        enum { N = 300 };
        float a[N], b[N], y[N], ref[N];
        struct test_rng rng = {99};
        test_fill(&rng, a, N, 1.0f);
        test_fill(&rng, b, N, 1.0f);
        uint32_t align = vk_ctx_info(ctx)->min_storage_align;
        uint64_t off = align_up(N * 4, align);
        struct vk_buf *big = test_buf(ctx, NULL, 3 * off);
        struct vk_view va = vk_view_sub(big->view, 0, N * 4), vb = vk_view_sub(big->view, off, N * 4);
        struct vk_view vy = vk_view_sub(big->view, 2 * off, N * 4);
        CHECK_OK(vk_upload(ctx, va, a, sizeof(a), &test_err), test_err);
        CHECK_OK(vk_upload(ctx, vb, b, sizeof(b), &test_err), test_err);
        struct vk_seq *s1 = test_seq(ctx), *s2 = test_seq(ctx);
        CHECK_OK(op_add(s1, va, vb, vy, N, N, &test_err), test_err);
        CHECK_OK(op_mul(s2, vy, vb, vy, N, N, &test_err), test_err);
        CHECK_OK(vk_seq_end(s1, &test_err), test_err);
        CHECK_OK(vk_seq_end(s2, &test_err), test_err);
        CHECK_OK(vk_seq_submit(s1, &test_err), test_err);
        CHECK_OK(vk_seq_submit(s2, &test_err), test_err);
        CHECK_OK(vk_seq_wait(s2, &test_err), test_err);
        CHECK_OK(vk_seq_wait(s1, &test_err), test_err);
        CHECK_OK(vk_download(ctx, vy, y, sizeof(y), &test_err), test_err);
        for (int i = 0; i < N; i++)
                ref[i] = (a[i] + b[i]) * b[i];
        test_close("two sequences", y, ref, N, 1e-6);

        /* Refusals name what was wrong. */
        CHECK_OK(vk_seq_begin(s1, &test_err), test_err);
        int r = op_add(s1, va, vb, vy, N + 1, N + 1, &test_err);
        CHECK(r == -EINVAL && strstr(test_err.msg, "add: a holds"), "%d %s", r, test_err.msg);
        if (align > 4) {
                r = op_add(s1, vk_view_sub(big->view, 4, N * 4), vb, vy, N, N, &test_err);
                CHECK(r == -EINVAL && strstr(test_err.msg, "not a multiple"), "%d %s", r, test_err.msg);
        }
        struct vk_view none = {VK_NULL_HANDLE, 0, 0};
        r = op_scale(s1, none, vy, N, 1.0f, &test_err);
        CHECK(r == -EINVAL, "empty view accepted: %d", r);
        CHECK_OK(vk_seq_end(s1, &test_err), test_err);
        CHECK(vk_seq_n_dispatches(s1) == 0, "a refused op recorded something");
        CHECK_OK(vk_seq_run(s1, &test_err), test_err); /* an empty sequence runs */
        vk_seq_destroy(s1);
        vk_seq_destroy(s2);
        vk_buf_free(ctx, big);
}

static void test_range_limit(void) {
        struct vk_opts o = {.max_storage_range = 16384};
        struct vk_ctx *c = test_ctx(&o);
        CHECK(vk_ctx_max_range(c) == 16384, "range %llu", (unsigned long long) vk_ctx_max_range(c));
        struct vk_buf *b = test_buf(c, NULL, 8192 * 4);
        struct vk_seq *s = test_seq(c);
        int r = op_scale(s, b->view, b->view, 8192, 2.0f, &test_err);
        CHECK(r == -E2BIG && strstr(test_err.msg, "storage range"), "%d %s", r, test_err.msg);
        CHECK_OK(op_scale(s, b->view, b->view, 4096, 2.0f, &test_err), test_err);
        test_seq_run(s);
        vk_seq_destroy(s);
        vk_buf_free(c, b);
        test_ctx_done(c);
}

static void test_pipeline_cache(void) {
        struct vk_ctx *c = test_ctx(NULL);
        char path[512];
        snprintf(path, sizeof(path), "%s", vk_pipeline_cache_path(c));
        CHECK(path[0] != 0, "no cache path");
        const char *xdg = getenv("XDG_CACHE_HOME");
        if (xdg && *xdg == '/')
                CHECK(strncmp(path, xdg, strlen(xdg)) == 0, "cache %s outside XDG_CACHE_HOME", path);
        struct vk_buf *b = test_buf(c, NULL, 64);
        struct vk_seq *s = test_seq(c);
        CHECK_OK(op_scale(s, b->view, b->view, 16, 2.0f, &test_err), test_err);
        test_seq_run(s);
        vk_seq_destroy(s);
        vk_buf_free(c, b);
        CHECK_OK(vk_pipeline_cache_save(c, &test_err), test_err);
        struct stat st;
        CHECK(stat(path, &st) == 0 && st.st_size > 0, "%s not written", path);
        test_ctx_done(c);
        c = test_ctx(NULL);
        CHECK(vk_pipeline_cache_loaded(c) > 0, "%s not loaded", path);
        test_ctx_done(c);
        /* A corrupt file is ignored, not fatal. */
        FILE *f = fopen(path, "wb");
        if (f) {
                fputs("garbage", f);
                fclose(f);
        }
        c = test_ctx(NULL);
        test_ctx_done(c);
        CHECK(stat(path, &st) == 0 && st.st_size > 7, "cache not rewritten after a corrupt one");
        /* Disabled: no path. */
        struct vk_opts o = {.no_pipeline_cache = true};
        c = test_ctx(&o);
        CHECK(vk_pipeline_cache_path(c)[0] == 0, "cache path while disabled");
        test_ctx_done(c);
}

/* A device without a required feature is refused with the feature named;
 * a missing validation layer is an error, not silence. */
static void test_missing(void) {
        struct vk_ctx *c = NULL;
        struct vk_device_info *infos = NULL;
        uint32_t n = 0;
        int chosen = -1;
        CHECK_OK(vk_list_devices(NULL, &infos, &n, &chosen, &test_err), test_err);
        bool any_coopmat = false;
        for (uint32_t i = 0; i < n; i++)
                any_coopmat |= infos[i].coopmat;
        free(infos);
        if (!any_coopmat) {
                struct vk_opts o = {.require = VK_FEATURE_COOPMAT};
                int r = vk_ctx_create(&o, &c, &test_err);
                CHECK(r == -ENODEV && strstr(test_err.msg, "VK_KHR_cooperative_matrix"), "%d %s", r, test_err.msg);
                setenv("VKINFER_DEVICE", "0", 1);
                r = vk_ctx_create(&o, &c, &test_err);
                CHECK(r == -ENOTSUP && strstr(test_err.msg, "VK_KHR_cooperative_matrix"), "%d %s", r, test_err.msg);
                unsetenv("VKINFER_DEVICE");
        }
        /* An empty layer path hides the validation layer from the loader. */
        const char *old = getenv("VK_LAYER_PATH");
        char *saved = old ? strdup(old) : NULL;
        setenv("VK_LAYER_PATH", "/nonexistent-vkinfer-layers", 1);
        struct vk_opts o = {.validation = 1};
        int r = vk_ctx_create(&o, &c, &test_err);
        CHECK(r == -ENOENT && strstr(test_err.msg, "VK_LAYER_KHRONOS_validation"), "%d %s", r, test_err.msg);
        if (saved)
                setenv("VK_LAYER_PATH", saved, 1);
        else
                unsetenv("VK_LAYER_PATH");
        free(saved);
}

int main(void) {
        CHECK(vk_errno(VK_SUCCESS) == 0, "success");
        CHECK(vk_errno(VK_ERROR_OUT_OF_DEVICE_MEMORY) == -ENOMEM, "oom");
        CHECK(vk_errno(VK_ERROR_DEVICE_LOST) == -EIO, "lost");
        CHECK(strcmp(vk_result_string(VK_ERROR_DEVICE_LOST), "VK_ERROR_DEVICE_LOST") == 0, "string");
        vk_err(&test_err, VK_ERROR_OUT_OF_HOST_MEMORY, "vkFoo");
        CHECK(strstr(test_err.msg, "vkFoo") && strstr(test_err.msg, "OUT_OF_HOST_MEMORY"), "%s", test_err.msg);

        struct vk_ctx *ctx = test_ctx(NULL);
        test_devices(ctx);
        test_transfer(ctx);
        test_replay(ctx);
        test_views_and_queues(ctx);
        double bps = 0;
        CHECK_OK(vk_measure_copy_bandwidth(ctx, 1 << 20, 4, &bps, &test_err), test_err);
        CHECK(bps > 0, "bandwidth %g", bps);
        struct ops_bench_result br = {0};
        CHECK_OK(ops_bench_matvec(ctx, 2 /* Q4_0 */, 512, 64, 3, 3, &br, &test_err), test_err);
        CHECK(br.seconds > 0 && br.weight_gbps > 0, "bench %g s %g GB/s", br.seconds, br.weight_gbps);
        test_ctx_done(ctx);
        test_validation_counter();
        test_allocator();
        test_range_limit();
        test_pipeline_cache();
        test_missing();
        return test_exit("test-vk-core");
}
