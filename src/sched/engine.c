/* The engine behind include/vkinfer/engine.h: the models served and (once
 * the Vulkan forward pass lands) the scheduler thread that owns the GPU. */
#include "vkinfer/engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"

#define ENGINE_MAX_MODELS 16
#define ENGINE_DEFAULT_CTX 4096

struct engine_model {
        struct vkinfer_model_info info;
        struct gguf_file *gguf;
        char *name, *path, *arch;
};

struct vkinfer_engine {
        struct vkinfer_engine_config config;
        struct engine_model models[ENGINE_MAX_MODELS];
        size_t n_models;
};

static int fail(struct vkinfer_error *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct vkinfer_error *err, int r, const char *fmt, ...) {
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
        }
        return r;
}

int vkinfer_engine_new(const struct vkinfer_engine_config *config, struct vkinfer_engine **ret,
                       struct vkinfer_error *err) {
        struct vkinfer_engine *e = calloc(1, sizeof(*e));
        if (!e)
                return fail(err, -ENOMEM, "out of memory");
        e->config = *config;
        *ret = e;
        return 0;
}

void vkinfer_engine_free(struct vkinfer_engine *e) {
        if (!e)
                return;
        for (size_t i = 0; i < e->n_models; i++) {
                gguf_close(e->models[i].gguf);
                free(e->models[i].name);
                free(e->models[i].path);
                free(e->models[i].arch);
        }
        free(e);
}

int vkinfer_engine_add_model(struct vkinfer_engine *e, const char *name, const char *path, uint32_t n_ctx,
                             struct vkinfer_error *err) {
        if (e->n_models >= ENGINE_MAX_MODELS)
                return fail(err, -E2BIG, "at most %d models", ENGINE_MAX_MODELS);
        for (size_t i = 0; i < e->n_models; i++)
                if (strcmp(e->models[i].name, name) == 0)
                        return fail(err, -EEXIST, "a model named '%s' is already loaded", name);
        struct vkinfer_err gerr = {{0}};
        struct engine_model *m = &e->models[e->n_models];
        memset(m, 0, sizeof(*m));
        int r = gguf_open(path, &m->gguf, &gerr);
        if (r < 0)
                return fail(err, r, "%s", gerr.msg);
        struct gguf_str arch;
        if (gguf_get_str(m->gguf, "general.architecture", &arch, &gerr) < 0) {
                m->gguf = gguf_close(m->gguf);
                return fail(err, -EINVAL, "%s: no general.architecture", path);
        }
        m->arch = gguf_str_dup(arch);
        m->name = strdup(name);
        m->path = strdup(path);
        if (!m->arch || !m->name || !m->path) {
                m->gguf = gguf_close(m->gguf);
                return fail(err, -ENOMEM, "out of memory");
        }
        char key[128];
        uint32_t ctx_train = 0;
        snprintf(key, sizeof(key), "%s.context_length", m->arch);
        (void) gguf_get_u32(m->gguf, key, &ctx_train, NULL);
        if (n_ctx == 0)
                n_ctx = ctx_train && ctx_train < ENGINE_DEFAULT_CTX ? ctx_train : ENGINE_DEFAULT_CTX;
        uint64_t params = 0;
        for (uint64_t i = 0; i < m->gguf->n_tensors; i++)
                params += m->gguf->tensors[i].n_elements;
        m->info = (struct vkinfer_model_info){
                .name = m->name,
                .path = m->path,
                .architecture = m->arch,
                .n_ctx = n_ctx,
                .n_params = params,
                .has_chat_template = gguf_find_kv(m->gguf, "tokenizer.chat_template") != NULL,
        };
        e->n_models++;
        return 0;
}

size_t vkinfer_engine_model_count(const struct vkinfer_engine *e) {
        return e->n_models;
}

const struct vkinfer_model_info *vkinfer_engine_model(const struct vkinfer_engine *e, size_t i) {
        return i < e->n_models ? &e->models[i].info : NULL;
}

const char *vkinfer_engine_device_name(const struct vkinfer_engine *e) {
        return "none";
}

void vkinfer_engine_stats(struct vkinfer_engine *e, struct vkinfer_engine_stats *ret) {
        memset(ret, 0, sizeof(*ret));
}

int vkinfer_engine_submit(struct vkinfer_engine *e, const struct vkinfer_gen_params *params,
                          vkinfer_notify_fn notify, void *userdata, struct vkinfer_request **ret,
                          struct vkinfer_error *err) {
        const char *want = params->model;
        size_t i = 0;
        if (want) {
                for (i = 0; i < e->n_models; i++)
                        if (strcmp(e->models[i].name, want) == 0)
                                break;
                if (i == e->n_models)
                        return fail(err, -ENOENT, "the model '%s' does not exist", want);
        }
        return fail(err, -ENODEV, "text generation is not available yet in this build");
}

void vkinfer_request_take(struct vkinfer_request *r, struct vkinfer_output *ret) {
        memset(ret, 0, sizeof(*ret));
        ret->finish = VKINFER_FINISH_ERROR;
}

void vkinfer_request_cancel(struct vkinfer_request *r) {
}

void vkinfer_request_free(struct vkinfer_request *r) {
}
