/* The table of architectures and the helpers their files share: reading
 * "<arch>.<key>" values and binding tensors with shape and type checks.
 * Internal to src/model. */
#pragma once

#include "model/model.h"

/* One supported architecture. Both operations fill in *m and return 0 or a
 * negative errno with err naming what was wrong. */
struct model_arch {
        const char *name;          /* general.architecture */
        enum model_arch_id id;
        /* Fills m->hp from the file's keys (and tensor shapes where the
         * converter writes no key, e.g. the vocabulary size). */
        int (*load_hparams)(struct model *m, const struct gguf_file *f, struct vkinfer_err *err);
        /* Binds m->tok_embd, m->layers[...], ..., checking shapes from m->hp. */
        int (*bind_tensors)(struct model *m, const struct gguf_file *f, struct vkinfer_err *err);
};

extern const struct model_arch model_arch_llama;
extern const struct model_arch model_arch_qwen2;
extern const struct model_arch model_arch_deepseek2;

/* ---- Keys ---- */

/* "<arch>.<suffix>" into a u32 / f32 / bool / string. A missing key is an
 * error when required, else *ret gets def. Type and range errors always
 * fail. */
int model_key_u32(const struct gguf_file *f, const char *arch, const char *suffix, bool required,
                  uint32_t def, uint32_t *ret, struct vkinfer_err *err);
int model_key_f32(const struct gguf_file *f, const char *arch, const char *suffix, bool required,
                  float def, float *ret, struct vkinfer_err *err);
int model_key_bool(const struct gguf_file *f, const char *arch, const char *suffix, bool required,
                   bool def, bool *ret, struct vkinfer_err *err);

/* Reads the rope keys common to every architecture into hp->rope (type and
 * n_dims are the caller's) and derives freq_scale, ext_factor, corr_dims.
 * attn_factor and mscale are left for the architecture to set. */
int model_load_rope(struct model_hparams *hp, const struct gguf_file *f, const char *arch,
                    struct vkinfer_err *err);

/* ---- Tensors ---- */

enum {
        BIND_REQUIRED = 0,
        BIND_OPTIONAL = 1 << 0, /* absent is fine: *ret = NULL */
};

/* Finds tensor `name`, checks that its shape is exactly ne (unused
 * dimensions 1) and its type is supported, and stores it in *ret (adding
 * its bytes to m->weight_bytes). */
int model_bind(struct model *m, const struct gguf_file *f, const char *name, unsigned flags,
               uint64_t ne0, uint64_t ne1, uint64_t ne2, const struct gguf_tensor **ret,
               struct vkinfer_err *err);
/* The same for "blk.<il>.<suffix>". */
int model_bind_blk(struct model *m, const struct gguf_file *f, uint32_t il, const char *suffix,
                   unsigned flags, uint64_t ne0, uint64_t ne1, uint64_t ne2,
                   const struct gguf_tensor **ret, struct vkinfer_err *err);

/* Binds token_embd, output_norm and output (tied to token_embd when absent),
 * taking n_vocab from token_embd's rows when hp.n_vocab is still 0. */
int model_bind_io(struct model *m, const struct gguf_file *f, struct vkinfer_err *err);

/* n_vocab from token_embd's shape (checked against "<arch>.vocab_size" when
 * the file has it). */
int model_vocab_from_embd(struct model *m, const struct gguf_file *f, const char *arch,
                          struct vkinfer_err *err);
