/* Per-sequence token sampling on the CPU, in llama.cpp's default order:
 * penalties -> top-k -> top-p -> min-p -> temperature -> draw. Temperature 0
 * is greedy. Each sequence has its own seeded generator, so the same request
 * with the same seed gives the same tokens alone or batched with others. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vkinfer/engine.h"

#define SAMPLER_PENALTY_LAST_N 64 /* tokens the penalties look back over */

struct sampler {
        struct vkinfer_sampling params;
        uint64_t rng[4];                        /* xoshiro256** state */
        int32_t recent[SAMPLER_PENALTY_LAST_N]; /* ring of the last tokens */
        size_t n_recent, recent_pos;
        /* scratch, sized for the vocabulary */
        struct sampler_candidate {
                int32_t id;
                float logit;
                float p;
        } *cand;
        size_t n_vocab;
};

int sampler_init(struct sampler *s, const struct vkinfer_sampling *params, size_t n_vocab);
void sampler_finish(struct sampler *s);
/* Records a token (prompt or generated) for the penalties. */
void sampler_accept(struct sampler *s, int32_t token);
/* Picks the next token from logits[n_vocab]. logits is not modified. */
int32_t sampler_sample(struct sampler *s, const float *logits);
/* log-softmax of logits at token (for logprobs). */
float sampler_logprob(const float *logits, size_t n_vocab, int32_t token);
