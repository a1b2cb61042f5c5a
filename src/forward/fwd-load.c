/* Weights to the device and the activation buffers. Weight matrices are
 * uploaded as the file stores them (the kernels dequantize), streamed from
 * the mmap through the context's staging buffer a bounded piece at a time;
 * vectors (norms, biases, the V3 selection bias, rope factors) become f32.
 * A combined attn_kv_b gets its k_b half transposed to f32 at load, so the
 * absorbed MLA reads the same layout as from a split attn_k_b. */
#include "forward/fwd-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/quant.h"

#define UPLOAD_PIECE (64ull << 20) /* bytes per upload call: progress granularity */

struct loader {
        struct fwd *f;   /* NULL: only count bytes */
        const struct runner_vk_opts *opts;
        uint64_t done, total;
};

static int keep_buf(struct fwd *f, struct vk_buf *b, struct vkinfer_err *err) {
        if (f->n_bufs == f->cap_bufs) {
                size_t cap = f->cap_bufs ? 2 * f->cap_bufs : 64;
                struct vk_buf **n = realloc(f->bufs, cap * sizeof(*n));
                if (!n) {
                        vk_buf_free(f->ctx, b);
                        return err_set(err, -ENOMEM, "out of memory");
                }
                f->bufs = n;
                f->cap_bufs = cap;
        }
        f->bufs[f->n_bufs++] = b;
        return 0;
}

/* Prefixes err's message with the tensor's name (a copy first: the
 * message may not be formatted from itself). */
static int name_err(struct vkinfer_err *err, int r, const char *name) {
        char msg[sizeof(err->msg)];
        if (!err)
                return r;
        snprintf(msg, sizeof(msg), "%s", err->msg);
        return err_set(err, r, "tensor %s: %s", name, msg);
}

/* A device buffer holding size bytes of data. */
static int upload(struct loader *L, const char *name, const void *data, uint64_t size, struct vk_view *ret,
                  struct vkinfer_err *err) {
        struct vk_buf *b = NULL;
        int r;
        if (!L->f) {
                L->total += align_up(size, 256);
                return 0;
        }
        if ((r = vk_buf_alloc(L->f->ctx, VK_MEM_DEVICE, size, &b, err)) < 0)
                return name_err(err, r, name);
        if ((r = keep_buf(L->f, b, err)) < 0)
                return r;
        for (uint64_t off = 0; off < size; off += UPLOAD_PIECE) {
                uint64_t n = size - off < UPLOAD_PIECE ? size - off : UPLOAD_PIECE;
                if ((r = vk_upload(L->f->ctx, vk_view_sub(b->view, off, n), (const uint8_t *) data + off, n, err)) < 0)
                        return name_err(err, r, name);
                L->done += n;
                if (L->opts && L->opts->progress)
                        L->opts->progress(L->opts->progress_data, L->done, L->total);
        }
        *ret = b->view;
        return 0;
}

/* A weight matrix (2D, or 3D: ne2 matrices). */
static int mat(struct loader *L, const struct gguf_tensor *t, struct fwd_weight *ret, struct vkinfer_err *err) {
        memset(ret, 0, sizeof(*ret));
        if (!t)
                return 0;
        if (!op_weight_type_supported(t->type))
                return err_set(err, -EOPNOTSUPP, "tensor %s: type %s is not supported by the Vulkan kernels", t->name,
                               ggml_type_name(t->type));
        uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
        if (t->ne[0] > UINT32_MAX || rows > UINT32_MAX || t->ne[3] != 1)
                return err_set(err, -E2BIG, "tensor %s: too large for the kernels", t->name);
        ret->w.type = t->type;
        ret->w.ncols = (uint32_t) t->ne[0];
        ret->w.nrows = (uint32_t) rows;
        ret->n_mats = (uint32_t) t->ne[2];
        return upload(L, t->name, t->data, t->n_bytes, &ret->w.view, err);
}

/* A vector (any shape, all elements) as f32. */
static int vec(struct loader *L, const struct gguf_tensor *t, struct vk_view *ret, struct vkinfer_err *err) {
        memset(ret, 0, sizeof(*ret));
        if (!t)
                return 0;
        if (t->type == GGML_TYPE_F32)
                return upload(L, t->name, t->data, t->n_bytes, ret, err);
        if (!L->f)
                return upload(L, t->name, NULL, t->n_elements * 4, ret, err);
        uint64_t rb;
        _cleanup_free_ float *v = malloc(t->n_elements * sizeof(float) + 4);
        if (!v)
                return err_set(err, -ENOMEM, "out of memory");
        if (ggml_row_bytes(t->type, t->ne[0], &rb) < 0)
                return err_set(err, -EINVAL, "tensor %s: bad row length", t->name);
        for (uint64_t r = 0; r < t->n_elements / t->ne[0]; r++)
                if (ggml_dequantize_row(t->type, (const uint8_t *) t->data + r * rb, v + r * t->ne[0], t->ne[0]) < 0)
                        return err_set(err, -EOPNOTSUPP, "tensor %s: cannot read type %s", t->name,
                                       ggml_type_name(t->type));
        return upload(L, t->name, v, t->n_elements * 4, ret, err);
}

/* k_b from a combined attn_kv_b: row h*rank + c of the result holds
 * k_b[h][0..qk_nope)[c], as a split attn_k_b lays it out, in f32. */
static int k_b_from_kv_b(struct loader *L, const struct model_hparams *hp, const struct gguf_tensor *kvb,
                         struct fwd_weight *ret, struct vkinfer_err *err) {
        const uint32_t H = hp->n_head, nope = hp->qk_nope, nv = hp->v_head, rank = hp->kv_lora_rank;
        const uint64_t n = (uint64_t) H * rank * nope;
        memset(ret, 0, sizeof(*ret));
        ret->w.type = GGML_TYPE_F32;
        ret->w.ncols = nope;
        ret->w.nrows = H * rank;
        ret->n_mats = H;
        if (!L->f)
                return upload(L, kvb->name, NULL, n * 4, &ret->w.view, err);
        uint64_t rb;
        _cleanup_free_ float *out = malloc(n * sizeof(float));
        _cleanup_free_ float *row = malloc((size_t) rank * sizeof(float));
        if (!out || !row)
                return err_set(err, -ENOMEM, "out of memory");
        if (ggml_row_bytes(kvb->type, rank, &rb) < 0)
                return err_set(err, -EINVAL, "tensor %s: bad row length", kvb->name);
        for (uint32_t h = 0; h < H; h++)
                for (uint32_t d = 0; d < nope; d++) {
                        const uint8_t *src = (const uint8_t *) kvb->data + ((uint64_t) h * (nope + nv) + d) * rb;
                        if (ggml_dequantize_row(kvb->type, src, row, rank) < 0)
                                return err_set(err, -EOPNOTSUPP, "tensor %s: cannot read type %s", kvb->name,
                                               ggml_type_name(kvb->type));
                        for (uint32_t c = 0; c < rank; c++)
                                out[((size_t) h * rank + c) * nope + d] = row[c];
                }
        return upload(L, kvb->name, out, n * 4, &ret->w.view, err);
}

static int walk(struct loader *L, const struct model *m, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        struct fwd scratch = {0};
        struct fwd *f = L->f ? L->f : &scratch;
        struct fwd_layer scratch_layer;
        int r;

        if ((r = mat(L, m->tok_embd, &f->tok_embd, err)) < 0 || (r = vec(L, m->output_norm, &f->output_norm, err)) < 0 ||
            (r = vec(L, m->rope_freqs, &f->rope_freqs, err)) < 0)
                return r;
        if (m->output == m->tok_embd)
                f->output = f->tok_embd;
        else if ((r = mat(L, m->output, &f->output, err)) < 0)
                return r;

        for (uint32_t il = 0; il < hp->n_layer; il++) {
                const struct model_layer *ml = &m->layers[il];
                struct fwd_layer *l = L->f ? &f->layers[il] : &scratch_layer;
                if ((r = vec(L, ml->attn_norm, &l->attn_norm, err)) < 0 || (r = vec(L, ml->ffn_norm, &l->ffn_norm, err)) < 0 ||
                    (r = vec(L, ml->q_a_norm, &l->q_a_norm, err)) < 0 || (r = vec(L, ml->kv_a_norm, &l->kv_a_norm, err)) < 0 ||
                    (r = vec(L, ml->bq, &l->bq, err)) < 0 || (r = vec(L, ml->bk, &l->bk, err)) < 0 ||
                    (r = vec(L, ml->bv, &l->bv, err)) < 0 || (r = vec(L, ml->bo, &l->bo, err)) < 0 ||
                    (r = vec(L, ml->exp_probs_b, &l->exp_probs_b, err)) < 0)
                        return r;
                if ((r = mat(L, ml->wq, &l->wq, err)) < 0 || (r = mat(L, ml->wk, &l->wk, err)) < 0 ||
                    (r = mat(L, ml->wv, &l->wv, err)) < 0 || (r = mat(L, ml->wo, &l->wo, err)) < 0 ||
                    (r = mat(L, ml->wq_a, &l->wq_a, err)) < 0 || (r = mat(L, ml->wq_b, &l->wq_b, err)) < 0 ||
                    (r = mat(L, ml->wkv_a_mqa, &l->wkv_a, err)) < 0)
                        return r;
                if (hp->arch == MODEL_ARCH_DEEPSEEK2) {
                        if (ml->wk_b && ml->wv_b) {
                                if ((r = mat(L, ml->wk_b, &l->wk_b, err)) < 0 || (r = mat(L, ml->wv_b, &l->wv_b, err)) < 0)
                                        return r;
                                l->vb_mat_rows = hp->v_head;
                                l->vb_row0 = 0;
                        } else if (ml->wkv_b) {
                                if ((r = k_b_from_kv_b(L, hp, ml->wkv_b, &l->wk_b, err)) < 0 ||
                                    (r = mat(L, ml->wkv_b, &l->wv_b, err)) < 0)
                                        return r;
                                l->vb_mat_rows = hp->qk_nope + hp->v_head;
                                l->vb_row0 = hp->qk_nope;
                        } else
                                return err_set(err, -EINVAL, "layer %u has neither attn_k_b/attn_v_b nor attn_kv_b", il);
                }
                if ((r = mat(L, ml->ffn_gate, &l->ffn_gate, err)) < 0 || (r = mat(L, ml->ffn_up, &l->ffn_up, err)) < 0 ||
                    (r = mat(L, ml->ffn_down, &l->ffn_down, err)) < 0 ||
                    (r = mat(L, ml->ffn_gate_inp, &l->gate_inp, err)) < 0 ||
                    (r = mat(L, ml->ffn_gate_exps, &l->gate_exps, err)) < 0 ||
                    (r = mat(L, ml->ffn_up_exps, &l->up_exps, err)) < 0 ||
                    (r = mat(L, ml->ffn_down_exps, &l->down_exps, err)) < 0 ||
                    (r = mat(L, ml->ffn_gate_shexp, &l->gate_sh, err)) < 0 ||
                    (r = mat(L, ml->ffn_up_shexp, &l->up_sh, err)) < 0 ||
                    (r = mat(L, ml->ffn_down_shexp, &l->down_sh, err)) < 0)
                        return r;
        }
        return 0;
}

int fwd_weights_bytes(const struct model *m, uint64_t *ret, struct vkinfer_err *err) {
        struct loader L = {0};
        int r = walk(&L, m, err);
        if (r < 0)
                return r;
        *ret = L.total;
        return 0;
}

int fwd_upload_weights(struct fwd *f, const struct runner_vk_opts *opts, struct vkinfer_err *err) {
        struct loader count = {0};
        int r = walk(&count, f->m, err);
        if (r < 0)
                return r;
        struct loader L = {.f = f, .opts = opts, .total = count.total};
        if ((r = walk(&L, f->m, err)) < 0)
                return r;
        if (opts && opts->progress) /* total counts each buffer's alignment too */
                opts->progress(opts->progress_data, L.total, L.total);
        return 0;
}

void fwd_free_weights(struct fwd *f) {
        for (size_t i = 0; i < f->n_bufs; i++)
                vk_buf_free(f->ctx, f->bufs[i]);
        free(f->bufs);
        f->bufs = NULL;
        f->n_bufs = f->cap_bufs = 0;
}

/* ---- Activations ---- */

static int act(struct fwd *f, struct vk_buf **ret, enum vk_mem_kind kind, uint64_t bytes, uint64_t *total,
               uint64_t *largest, struct vkinfer_err *err) {
        if (bytes == 0)
                return 0;
        bytes = align_up(bytes, 256);
        *total += bytes;
        if (bytes > *largest)
                *largest = bytes;
        if (!f)
                return 0;
        if (bytes > vk_ctx_max_range(f->ctx))
                return err_set(err, -E2BIG, "an activation buffer of %llu bytes exceeds the %llu-byte storage range",
                               (unsigned long long) bytes, (unsigned long long) vk_ctx_max_range(f->ctx));
        return vk_buf_alloc(f->ctx, kind, bytes, ret, err);
}

/* Whether steps of up to T tokens group the pairs of their matvecs by id
 * (op_id_group): with several tokens, matrices the grouping holds, and
 * VKINFER_ID_GROUP not 0 (to measure one against the other). */
static bool group_ids(uint32_t T, uint32_t n_mats) {
        const char *env = getenv("VKINFER_ID_GROUP");
        return T > 1 && n_mats <= ID_GROUP_MAX_MATS && !(env && strcmp(env, "0") == 0);
}

int fwd_activations(struct fwd *f, const struct model *m, uint32_t T, uint32_t L, uint64_t *ret_bytes,
                    uint64_t *ret_largest, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const uint64_t E = hp->n_embd, H = hp->n_head, KVH = hp->n_head_kv, dk = hp->head_dim_k, dv = hp->head_dim_v;
        struct fwd_act scratch = {0};
        struct fwd_act *a = f ? &f->a : &scratch;
        uint64_t total = 0, largest = 0, t4 = (uint64_t) T * 4;
        uint64_t ff = 0;
        bool moe = false;
        int r;
        for (uint32_t il = 0; il < hp->n_layer; il++) {
                const struct model_layer *ml = &m->layers[il];
                if (ml->ffn_gate && ml->ffn_gate->ne[1] > ff)
                        ff = ml->ffn_gate->ne[1];
                if (ml->ffn_gate_shexp && ml->ffn_gate_shexp->ne[1] > ff)
                        ff = ml->ffn_gate_shexp->ne[1];
                moe |= ml->is_moe;
        }
#define A(field, kind, bytes) \
        if ((r = act(f, &a->field, kind, bytes, &total, &largest, err)) < 0) return r
        A(x, VK_MEM_DEVICE, t4 * E);
        A(h, VK_MEM_DEVICE, t4 * E);
        A(o, VK_MEM_DEVICE, t4 * E);
        A(q, VK_MEM_DEVICE, t4 * H * dk);
        if (hp->arch == MODEL_ARCH_DEEPSEEK2) {
                const uint64_t W = hp->kv_lora_rank + hp->qk_rope;
                A(q_lo, VK_MEM_DEVICE, t4 * hp->q_lora_rank);
                A(kv, VK_MEM_DEVICE, t4 * W);
                A(lat, VK_MEM_DEVICE, t4 * hp->kv_lora_rank);
                A(kpe, VK_MEM_DEVICE, t4 * hp->qk_rope);
                A(qa, VK_MEM_DEVICE, t4 * H * W);
                A(att, VK_MEM_DEVICE, t4 * H * hp->kv_lora_rank);
                A(kqv, VK_MEM_DEVICE, t4 * H * hp->v_head);
                A(head_ids, VK_MEM_DEVICE, H * 4);
                if (group_ids(T, (uint32_t) H))
                        A(head_groups, VK_MEM_DEVICE, op_id_group_bytes(T, (uint32_t) H, (uint32_t) H));
        } else {
                A(k, VK_MEM_DEVICE, t4 * KVH * dk);
                A(v, VK_MEM_DEVICE, t4 * KVH * dv);
                A(att, VK_MEM_DEVICE, t4 * H * dv);
        }
        A(g, VK_MEM_DEVICE, t4 * ff);
        A(u, VK_MEM_DEVICE, t4 * ff);
        if (moe) {
                const uint64_t k = hp->n_expert_used;
                A(rl, VK_MEM_DEVICE, t4 * hp->n_expert);
                A(ids, VK_MEM_DEVICE, t4 * k);
                if (group_ids(T, hp->n_expert))
                        A(exp_groups, VK_MEM_DEVICE, op_id_group_bytes(T, (uint32_t) k, hp->n_expert));
                A(rw, VK_MEM_DEVICE, t4 * k);
                A(eg, VK_MEM_DEVICE, t4 * k * hp->n_ff_exp);
                A(eu, VK_MEM_DEVICE, t4 * k * hp->n_ff_exp);
                A(ed, VK_MEM_DEVICE, t4 * k * E);
                A(sh, VK_MEM_DEVICE, t4 * E);
        }
        A(xl, VK_MEM_DEVICE, (uint64_t) L * 4 * E);
        A(logits, VK_MEM_HOST, (uint64_t) L * 4 * hp->n_vocab);
        const uint64_t slot = align_up(t4, 256);
        A(in, VK_MEM_HOST, 4 * slot + align_up((uint64_t) L * 4, 256));
#undef A
        if (f) {
                a->in_tokens = vk_view_sub(a->in->view, 0, t4);
                a->in_pos = vk_view_sub(a->in->view, slot, t4);
                a->in_seq = vk_view_sub(a->in->view, 2 * slot, t4);
                a->in_rows = vk_view_sub(a->in->view, 3 * slot, t4);
                a->in_lrows = vk_view_sub(a->in->view, 4 * slot, (uint64_t) L * 4);
                if (a->head_ids) {
                        _cleanup_free_ uint32_t *ids = malloc(H * 4);
                        if (!ids)
                                return err_set(err, -ENOMEM, "out of memory");
                        for (uint32_t h = 0; h < H; h++)
                                ids[h] = h;
                        if ((r = vk_upload(f->ctx, a->head_ids->view, ids, H * 4, err)) < 0)
                                return r;
                }
        }
        *ret_bytes = total;
        if (ret_largest)
                *ret_largest = largest;
        return 0;
}

void fwd_free_activations(struct fwd *f) {
        struct vk_buf **all[] = {
                &f->a.x, &f->a.h, &f->a.o, &f->a.q, &f->a.k, &f->a.v, &f->a.q_lo, &f->a.kv, &f->a.lat, &f->a.kpe,
                &f->a.qa, &f->a.att, &f->a.kqv, &f->a.g, &f->a.u, &f->a.rl, &f->a.ids, &f->a.rw, &f->a.eg,
                &f->a.eu, &f->a.ed, &f->a.sh, &f->a.xl, &f->a.head_ids, &f->a.head_groups, &f->a.exp_groups,
                &f->a.in, &f->a.table, &f->a.logits,
        };
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                *all[i] = vk_buf_free(f->ctx, *all[i]);
}
