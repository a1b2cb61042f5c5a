/* Host dispatch of the forward pass's kernels (see fwd-kernels.h): check
 * the views against the shapes, pick the pipeline, record. */
#include "forward/fwd-kernels.h"

#include <errno.h>

#define WG_ATTN ATTN_WG
#define WG_ELEM 256
#define WG_ROUTE 64

static int pipeline(struct vk_seq *s, const char *name, uint32_t n_bindings, uint32_t push_size, uint32_t wg,
                    struct vk_pipeline **ret, struct vkinfer_err *err) {
        return vk_pipeline_get(vk_seq_ctx(s), name, n_bindings, push_size, &wg, 1, ret, err);
}

int fwd_attn(struct vk_seq *s, const struct push_attn *p, bool f16, struct vk_view q, struct vk_view cache,
             struct vk_view block_table, struct vk_view tok_seq, struct vk_view tok_pos, struct vk_view out,
             struct vkinfer_err *err) {
        struct vk_pipeline *pl;
        int r;
        if (p->n_tokens == 0 || p->n_head == 0 || p->group == 0 || p->n_head % p->group || p->dk == 0 ||
            p->dk > ATTN_MAX_DK || p->dv == 0 || p->dv > ATTN_MAX_DV_PER_INV * WG_ATTN || p->block_size == 0 ||
            p->max_blocks == 0)
                return err_set(err, -EINVAL, "attn: %u heads in groups of %u, dk %u, dv %u: not supported", p->n_head,
                               p->group, p->dk, p->dv);
        uint64_t tl = p->n_tokens - 1, hl = p->n_head - 1;
        if ((r = op_need("attn", "q", q, (tl * p->q_ts + hl * p->q_hs + p->dk) * 4, &q, err)) < 0 ||
            (r = op_need("attn", "out", out, (tl * p->o_ts + hl * p->o_hs + p->dv) * 4, &out, err)) < 0 ||
            (r = op_need("attn", "tok_seq", tok_seq, p->n_tokens * 4ull, &tok_seq, err)) < 0 ||
            (r = op_need("attn", "tok_pos", tok_pos, p->n_tokens * 4ull, &tok_pos, err)) < 0 ||
            (r = op_need("attn", "cache", cache, (uint64_t) p->block_size * p->row_width * (f16 ? 2 : 4),
                         &(struct vk_view) {0}, err)) < 0 ||
            (r = op_need("attn", "block_table", block_table, (uint64_t) p->max_blocks * 4, &(struct vk_view) {0},
                         err)) < 0)
                return r;
        /* The cache and the tables are bound whole: rows come from the tables. */
        cache.size = cache.size / 4 * 4;
        block_table.size = block_table.size / 4 * 4;
        if ((r = pipeline(s, f16 ? "attn_paged_f16" : "attn_paged", 6, sizeof(*p), WG_ATTN, &pl, err)) < 0)
                return r;
        struct vk_view v[6] = {q, cache, block_table, tok_seq, tok_pos, out};
        uint32_t g[3];
        vk_groups_linear(vk_seq_ctx(s), (uint64_t) p->n_tokens * p->n_head, g);
        return vk_seq_dispatch(s, pl, v, 6, p, sizeof(*p), g, err);
}

int fwd_kv_store(struct vk_seq *s, const struct push_kv_store *p0, bool f16, struct vk_view src, struct vk_view rows,
                 struct vk_view dst, struct vkinfer_err *err) {
        const uint64_t vb = f16 ? 2 : 4; /* bytes per destination value */
        struct push_kv_store p = *p0;
        struct vk_pipeline *pl;
        int r;
        p.has_rows = rows.size > 0;
        if (p.n_tokens == 0 || p.width == 0 || p.dst_off + p.width > p.row_width)
                return err_set(err, -EINVAL, "kv_store: %u values at %u of rows of %u", p.width, p.dst_off,
                               p.row_width);
        uint64_t src_last = p.src_off + (uint64_t) (p.n_tokens - 1) * p.src_ts + p.width;
        if ((r = op_need("kv_store", "src", src, src_last * 4, &src, err)) < 0)
                return r;
        if (p.has_rows) {
                if ((r = op_need("kv_store", "rows", rows, p.n_tokens * 4ull, &rows, err)) < 0 ||
                    (r = op_need("kv_store", "dst", dst, (uint64_t) p.row_width * vb, &(struct vk_view) {0}, err)) < 0)
                        return r;
                dst.size = dst.size / 4 * 4; /* rows anywhere in the cache */
        } else if ((r = op_need("kv_store", "dst", dst, (uint64_t) p.n_tokens * p.row_width * vb, &dst, err)) < 0) {
                return r;
        }
        if ((r = pipeline(s, f16 ? "kv_store_f16" : "kv_store", 3, sizeof(p), WG_ELEM, &pl, err)) < 0)
                return r;
        struct vk_view v[3] = {src, p.has_rows ? rows : src, dst};
        uint32_t g[3];
        vk_groups_linear(vk_seq_ctx(s), ((uint64_t) p.n_tokens * p.width + WG_ELEM - 1) / WG_ELEM, g);
        return vk_seq_dispatch(s, pl, v, 3, &p, sizeof(p), g, err);
}

int fwd_moe_route(struct vk_seq *s, const struct push_moe_route *p0, struct vk_view logits, struct vk_view bias,
                  struct vk_view out_ids, struct vk_view out_w, struct vkinfer_err *err) {
        struct push_moe_route p = *p0;
        struct vk_pipeline *pl;
        int r;
        p.has_bias = bias.size > 0;
        if (p.n_tokens == 0 || p.n_expert == 0 || p.n_expert > MOE_MAX_EXPERT || p.k == 0 || p.k > MOE_MAX_USED ||
            p.k > p.n_expert || (p.n_groups > 1 && (p.n_expert % p.n_groups || p.n_groups_used == 0 ||
                                                     p.n_groups_used > p.n_groups)))
                return err_set(err, -EINVAL, "moe_route: %u of %u experts in %u groups (%u used): not supported "
                               "(at most %u experts, %u used)", p.k, p.n_expert, p.n_groups, p.n_groups_used,
                               MOE_MAX_EXPERT, MOE_MAX_USED);
        if ((r = op_need("moe_route", "logits", logits, (uint64_t) p.n_tokens * p.n_expert * 4, &logits, err)) < 0 ||
            (p.has_bias && (r = op_need("moe_route", "bias", bias, p.n_expert * 4ull, &bias, err)) < 0) ||
            (r = op_need("moe_route", "ids", out_ids, (uint64_t) p.n_tokens * p.k * 4, &out_ids, err)) < 0 ||
            (r = op_need("moe_route", "weights", out_w, (uint64_t) p.n_tokens * p.k * 4, &out_w, err)) < 0)
                return r;
        if ((r = pipeline(s, "moe_route", 4, sizeof(p), WG_ROUTE, &pl, err)) < 0)
                return r;
        struct vk_view v[4] = {logits, p.has_bias ? bias : logits, out_ids, out_w};
        uint32_t g[3];
        vk_groups_linear(vk_seq_ctx(s), p.n_tokens, g);
        return vk_seq_dispatch(s, pl, v, 4, &p, sizeof(p), g, err);
}

int fwd_moe_combine(struct vk_seq *s, const struct push_moe_combine *p0, struct vk_view y, struct vk_view w,
                    struct vk_view add, struct vk_view out, struct vkinfer_err *err) {
        struct push_moe_combine p = *p0;
        struct vk_pipeline *pl;
        int r;
        p.has_add = add.size > 0;
        uint64_t n = (uint64_t) p.n_tokens * p.width;
        if ((r = op_need("moe_combine", "y", y, n * p.k * 4, &y, err)) < 0 ||
            (r = op_need("moe_combine", "w", w, (uint64_t) p.n_tokens * p.k * 4, &w, err)) < 0 ||
            (p.has_add && (r = op_need("moe_combine", "add", add, n * 4, &add, err)) < 0) ||
            (r = op_need("moe_combine", "out", out, n * 4, &out, err)) < 0)
                return r;
        if ((r = pipeline(s, "moe_combine", 4, sizeof(p), WG_ELEM, &pl, err)) < 0)
                return r;
        struct vk_view v[4] = {y, w, p.has_add ? add : y, out};
        uint32_t g[3];
        vk_groups_linear(vk_seq_ctx(s), (n + WG_ELEM - 1) / WG_ELEM, g);
        return vk_seq_dispatch(s, pl, v, 4, &p, sizeof(p), g, err);
}
