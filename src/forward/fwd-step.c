/* Records one step: every token of the batch through every layer, then
 * the output head for the rows that want logits. Each kernel computes each
 * token's values the same way whatever else is in the batch (see the
 * kernels' comments), which is what makes a sequence's logits independent
 * of its batch-mates and of how its prompt was chunked.
 *
 * Per layer (T tokens, rows of the activation buffers):
 *   h = rmsnorm(x) * attn_norm
 *   attention (GQA or MLA, below), o = attn_output(...)
 *   x = x + o
 *   h = rmsnorm(x) * ffn_norm
 *   o = SwiGLU FFN, or MoE (router, top-k on the GPU, experts by id, shared)
 *   x = x + o */
#include "forward/fwd-internal.h"

#include <errno.h>

#define TRY(e) \
        do { \
                int r_ = (e); \
                if (r_ < 0) \
                        return r_; \
        } while (0)

static struct op_rope rope_params(const struct model_hparams *hp, uint32_t T) {
        const struct model_rope *mr = &hp->rope;
        struct op_rope p = {
                .n_dims = mr->n_dims, .n_tokens = T,
                .mode = mr->type == ROPE_TYPE_NEOX ? OP_ROPE_NEOX : OP_ROPE_NORMAL,
                .freq_base = mr->freq_base, .freq_scale = mr->freq_scale, .ext_factor = mr->ext_factor,
                .attn_factor = mr->attn_factor, .beta_fast = mr->beta_fast, .beta_slow = mr->beta_slow,
                .n_ctx_orig = mr->orig_ctx,
        };
        return p;
}

/* op_matvec_id, or over ids's groups (op_id_group) when grouped: each
 * matrix read once for up to MATVEC_TPG of the step's (token, slot) pairs. */
static int matvec_id(struct vk_seq *s, const struct op_weight *w, const struct op_matvec_id *p, struct vk_buf *ids,
                     bool grouped, struct vk_view x, struct vk_view y, struct vkinfer_err *err) {
        return grouped ? op_matvec_id_grouped(s, w, p, ids->view, x, y, err) : op_matvec_id(s, w, p, ids->view, x, y, err);
}

static int bias(struct vk_seq *s, struct vk_view b, struct vk_view y, uint32_t T, uint32_t n, struct vkinfer_err *err) {
        if (b.size == 0)
                return 0;
        return op_add(s, y, b, y, T * n, n, err);
}

static int attn_gqa(struct fwd *f, uint32_t il, uint32_t T, struct vkinfer_err *err) {
        const struct model_hparams *hp = &f->m->hp;
        const struct fwd_layer *l = &f->layers[il];
        struct fwd_act *a = &f->a;
        struct vk_seq *s = f->seq;
        const uint32_t H = hp->n_head, KVH = hp->n_head_kv, dk = hp->head_dim_k, dv = hp->head_dim_v;

        TRY(op_matvec_batch(s, &l->wq.w, a->h->view, a->q->view, T, err));
        TRY(bias(s, l->bq, a->q->view, T, H * dk, err));
        TRY(op_matvec_batch(s, &l->wk.w, a->h->view, a->k->view, T, err));
        TRY(bias(s, l->bk, a->k->view, T, KVH * dk, err));
        TRY(op_matvec_batch(s, &l->wv.w, a->h->view, a->v->view, T, err));
        TRY(bias(s, l->bv, a->v->view, T, KVH * dv, err));

        struct op_rope rp = rope_params(hp, T);
        rp.head_dim = dk;
        rp.n_heads = H;
        TRY(op_rope(s, &rp, a->q->view, a->in_pos, f->rope_freqs, a->q->view, err));
        rp.n_heads = KVH;
        TRY(op_rope(s, &rp, a->k->view, a->in_pos, f->rope_freqs, a->k->view, err));

        /* cache row: [K of every kv head | V of every kv head] */
        struct push_kv_store ks = {.n_tokens = T, .width = KVH * dk, .src_ts = KVH * dk, .row_width = f->row_width};
        TRY(fwd_kv_store(s, &ks, f->kv_f16, a->k->view, a->in_rows, l->cache->view, err));
        ks.width = ks.src_ts = KVH * dv;
        ks.dst_off = KVH * dk;
        TRY(fwd_kv_store(s, &ks, f->kv_f16, a->v->view, a->in_rows, l->cache->view, err));

        struct push_attn ap = {
                .n_tokens = T, .n_head = H, .group = H / KVH, .dk = dk, .dv = dv, .q_ts = H * dk, .q_hs = dk,
                .k_off = 0, .k_hs = dk, .v_off = KVH * dk, .v_hs = dv, .row_width = f->row_width,
                .block_size = KV_BLOCK_TOKENS, .max_blocks = f->max_blocks, .o_ts = H * dv, .o_hs = dv,
                .scale = hp->kq_scale,
        };
        TRY(fwd_attn(s, &ap, f->kv_f16, a->q->view, l->cache->view, a->table->view, a->in_seq, a->in_pos, a->att->view, err));
        TRY(op_matvec_batch(s, &l->wo.w, a->att->view, a->o->view, T, err));
        return bias(s, l->bo, a->o->view, T, hp->n_embd, err);
}

/* MLA in the absorbed form for every token, prefill and decode alike (one
 * kernel path keeps chunked prefill bitwise equal to one prefill). */
static int attn_mla(struct fwd *f, uint32_t il, uint32_t T, struct vkinfer_err *err) {
        const struct model_hparams *hp = &f->m->hp;
        const struct fwd_layer *l = &f->layers[il];
        struct fwd_act *a = &f->a;
        struct vk_seq *s = f->seq;
        const uint32_t H = hp->n_head, dk = hp->head_dim_k, nope = hp->qk_nope, nrope = hp->qk_rope;
        const uint32_t rank = hp->kv_lora_rank, W = rank + nrope, nv = hp->v_head;

        /* q = [q_nope | q_pe] per head */
        if (l->wq_a.w.nrows) {
                TRY(op_matvec_batch(s, &l->wq_a.w, a->h->view, a->q_lo->view, T, err));
                TRY(op_rmsnorm(s, a->q_lo->view, l->q_a_norm, a->q_lo->view, hp->q_lora_rank, T, hp->rms_eps, err));
                TRY(op_matvec_batch(s, &l->wq_b.w, a->q_lo->view, a->q->view, T, err));
        } else
                TRY(op_matvec_batch(s, &l->wq.w, a->h->view, a->q->view, T, err));

        /* kv = [latent | k_pe]; latent normed, k_pe roped, both cached */
        TRY(op_matvec_batch(s, &l->wkv_a.w, a->h->view, a->kv->view, T, err));
        struct push_kv_store cp = {.n_tokens = T, .width = rank, .src_ts = W, .row_width = rank};
        TRY(fwd_kv_store(s, &cp, false, a->kv->view, (struct vk_view) {0}, a->lat->view, err));
        TRY(op_rmsnorm(s, a->lat->view, l->kv_a_norm, a->lat->view, rank, T, hp->rms_eps, err));
        struct op_rope rp = rope_params(hp, T);
        rp.head_dim = nrope;
        rp.n_heads = 1;
        rp.x_off = rank;
        rp.x_hs = nrope;
        rp.x_ts = W;
        TRY(op_rope(s, &rp, a->kv->view, a->in_pos, f->rope_freqs, a->kpe->view, err));
        struct push_kv_store ks = {.n_tokens = T, .width = rank, .src_ts = rank, .row_width = W};
        TRY(fwd_kv_store(s, &ks, f->kv_f16, a->lat->view, a->in_rows, l->cache->view, err));
        ks.width = ks.src_ts = nrope;
        ks.dst_off = rank;
        TRY(fwd_kv_store(s, &ks, f->kv_f16, a->kpe->view, a->in_rows, l->cache->view, err));

        /* the attention query per head: [k_b^T q_nope (rank) | roped q_pe] */
        rp = rope_params(hp, T);
        rp.head_dim = nrope;
        rp.n_heads = H;
        rp.x_off = nope;
        rp.x_hs = dk;
        rp.x_ts = H * dk;
        rp.y_off = rank;
        rp.y_hs = W;
        rp.y_ts = H * W;
        TRY(op_rope(s, &rp, a->q->view, a->in_pos, f->rope_freqs, a->qa->view, err));
        struct op_matvec_id kb = {
                .n_mats = H, .mat_rows = rank, .row0 = 0, .nrows = rank, .n_tokens = T, .n_slots = H, .id_ts = 0,
                .x_off = 0, .x_ss = dk, .x_ts = H * dk, .y_ss = W, .y_ts = H * W,
        };
        /* The heads' groups depend on T alone: made once a step, by layer 0. */
        bool hg = T > 1 && a->head_groups;
        if (hg && il == 0)
                TRY(op_id_group(s, &kb, a->head_ids->view, a->head_groups->view, err));
        TRY(matvec_id(s, &l->wk_b.w, &kb, hg ? a->head_groups : a->head_ids, hg, a->q->view, a->qa->view, err));

        /* attention over [latent | k_pe] rows, values = the latent */
        struct push_attn ap = {
                .n_tokens = T, .n_head = H, .group = H, .dk = W, .dv = rank, .q_ts = H * W, .q_hs = W,
                .k_off = 0, .k_hs = 0, .v_off = 0, .v_hs = 0, .row_width = W, .block_size = KV_BLOCK_TOKENS,
                .max_blocks = f->max_blocks, .o_ts = H * rank, .o_hs = rank, .scale = hp->kq_scale,
        };
        TRY(fwd_attn(s, &ap, f->kv_f16, a->qa->view, l->cache->view, a->table->view, a->in_seq, a->in_pos, a->att->view, err));

        /* out of the latent space with v_b, then attn_output */
        struct op_matvec_id vb = {
                .n_mats = H, .mat_rows = l->vb_mat_rows, .row0 = l->vb_row0, .nrows = nv, .n_tokens = T,
                .n_slots = H, .id_ts = 0, .x_off = 0, .x_ss = rank, .x_ts = H * rank, .y_ss = nv, .y_ts = H * nv,
        };
        TRY(matvec_id(s, &l->wv_b.w, &vb, hg ? a->head_groups : a->head_ids, hg, a->att->view, a->kqv->view, err));
        return op_matvec_batch(s, &l->wo.w, a->kqv->view, a->o->view, T, err);
}

/* down(silu(gate h) * up h) into out. */
static int ffn(struct fwd *f, const struct fwd_weight *gate, const struct fwd_weight *up,
               const struct fwd_weight *down, uint32_t T, struct vk_view out, struct vkinfer_err *err) {
        struct fwd_act *a = &f->a;
        struct vk_seq *s = f->seq;
        TRY(op_matvec_batch(s, &gate->w, a->h->view, a->g->view, T, err));
        TRY(op_matvec_batch(s, &up->w, a->h->view, a->u->view, T, err));
        TRY(op_swiglu(s, a->g->view, a->u->view, a->g->view, T * gate->w.nrows, err));
        return op_matvec_batch(s, &down->w, a->g->view, out, T, err);
}

static int moe(struct fwd *f, uint32_t il, uint32_t T, struct vkinfer_err *err) {
        const struct model_hparams *hp = &f->m->hp;
        const struct fwd_layer *l = &f->layers[il];
        struct fwd_act *a = &f->a;
        struct vk_seq *s = f->seq;
        const uint32_t k = hp->n_expert_used, E = hp->n_embd, nff = hp->n_ff_exp;

        TRY(op_matvec_batch(s, &l->gate_inp.w, a->h->view, a->rl->view, T, err));
        struct push_moe_route rp = {
                .n_tokens = T, .n_expert = hp->n_expert, .k = k,
                .n_groups = hp->n_expert_groups > 1 ? hp->n_expert_groups : 0,
                .n_groups_used = hp->n_expert_groups_used, .gating = hp->gating == MOE_GATING_SIGMOID ? 2 : 1,
                .norm = hp->expert_weights_norm, .scale = hp->expert_weights_scale,
        };
        TRY(fwd_moe_route(s, &rp, a->rl->view, l->exp_probs_b, a->ids->view, a->rw->view, err));

        struct op_matvec_id ep = {
                .n_mats = l->gate_exps.n_mats, .mat_rows = nff, .nrows = nff, .n_tokens = T, .n_slots = k,
                .id_ts = k, .x_ss = 0, .x_ts = E, .y_ss = nff, .y_ts = k * nff,
        };
        bool eg = T > 1 && a->exp_groups;
        if (eg)
                TRY(op_id_group(s, &ep, a->ids->view, a->exp_groups->view, err));
        struct vk_buf *ids = eg ? a->exp_groups : a->ids;
        TRY(matvec_id(s, &l->gate_exps.w, &ep, ids, eg, a->h->view, a->eg->view, err));
        TRY(matvec_id(s, &l->up_exps.w, &ep, ids, eg, a->h->view, a->eu->view, err));
        TRY(op_swiglu(s, a->eg->view, a->eu->view, a->eg->view, T * k * nff, err));
        struct op_matvec_id dp = {
                .n_mats = l->down_exps.n_mats, .mat_rows = E, .nrows = E, .n_tokens = T, .n_slots = k,
                .id_ts = k, .x_ss = nff, .x_ts = k * nff, .y_ss = E, .y_ts = k * E,
        };
        TRY(matvec_id(s, &l->down_exps.w, &dp, ids, eg, a->eg->view, a->ed->view, err));

        struct vk_view add = {0};
        if (l->gate_sh.w.nrows) {
                TRY(ffn(f, &l->gate_sh, &l->up_sh, &l->down_sh, T, a->sh->view, err));
                add = a->sh->view;
        }
        struct push_moe_combine cp = {.n_tokens = T, .k = k, .width = E};
        return fwd_moe_combine(s, &cp, a->ed->view, a->rw->view, add, a->o->view, err);
}

int fwd_record(struct fwd *f, uint32_t T, uint32_t L, struct vkinfer_err *err) {
        const struct model_hparams *hp = &f->m->hp;
        struct fwd_act *a = &f->a;
        struct vk_seq *s = f->seq;
        const uint32_t E = hp->n_embd;

        TRY(vk_seq_begin(s, err));
        TRY(op_get_rows(s, &f->tok_embd.w, a->in_tokens, T, a->x->view, err));
        for (uint32_t il = 0; il < hp->n_layer; il++) {
                const struct fwd_layer *l = &f->layers[il];
                TRY(op_rmsnorm(s, a->x->view, l->attn_norm, a->h->view, E, T, hp->rms_eps, err));
                if (hp->arch == MODEL_ARCH_DEEPSEEK2)
                        TRY(attn_mla(f, il, T, err));
                else
                        TRY(attn_gqa(f, il, T, err));
                TRY(op_add(s, a->x->view, a->o->view, a->x->view, T * E, T * E, err));
                TRY(op_rmsnorm(s, a->x->view, l->ffn_norm, a->h->view, E, T, hp->rms_eps, err));
                if (f->m->layers[il].is_moe)
                        TRY(moe(f, il, T, err));
                else
                        TRY(ffn(f, &l->ffn_gate, &l->ffn_up, &l->ffn_down, T, a->o->view, err));
                TRY(op_add(s, a->x->view, a->o->view, a->x->view, T * E, T * E, err));
        }
        if (L > 0) {
                /* only the rows that want logits go through the head */
                struct op_weight rows = {.view = a->x->view, .type = GGML_TYPE_F32, .ncols = E, .nrows = T};
                TRY(op_get_rows(s, &rows, a->in_lrows, L, a->xl->view, err));
                TRY(op_rmsnorm(s, a->xl->view, f->output_norm, a->xl->view, E, L, hp->rms_eps, err));
                TRY(op_matvec_batch(s, &f->output.w, a->xl->view, a->logits->view, L, err));
        }
        return vk_seq_end(s, err);
}
