#include "sample/sampler.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* splitmix64 seeds xoshiro256**, as its authors recommend. */
static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4]) {
        uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

/* Uniform in [0, 1) with 53 bits. */
static double rng_uniform(uint64_t s[4]) {
        return (double) (rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

int sampler_init(struct sampler *s, const struct vkinfer_sampling *params, size_t n_vocab) {
        memset(s, 0, sizeof(*s));
        s->params = *params;
        s->n_vocab = n_vocab;
        s->cand = malloc(n_vocab * sizeof(*s->cand));
        if (!s->cand)
                return -ENOMEM;
        uint64_t seed = params->seed;
        if (!params->has_seed && getrandom(&seed, sizeof(seed), 0) != (ssize_t) sizeof(seed))
                seed = (uint64_t) (uintptr_t) s ^ 0x853c49e6748fea9bull;
        for (int i = 0; i < 4; i++)
                s->rng[i] = splitmix64(&seed);
        return 0;
}

void sampler_finish(struct sampler *s) {
        free(s->cand);
        s->cand = NULL;
}

void sampler_accept(struct sampler *s, int32_t token) {
        s->recent[s->recent_pos] = token;
        s->recent_pos = (s->recent_pos + 1) % SAMPLER_PENALTY_LAST_N;
        if (s->n_recent < SAMPLER_PENALTY_LAST_N)
                s->n_recent++;
}

static int cmp_logit_desc(const void *a, const void *b) {
        const struct sampler_candidate *x = a, *y = b;
        if (x->logit != y->logit)
                return x->logit < y->logit ? 1 : -1;
        return x->id < y->id ? -1 : x->id > y->id; /* ties: lower id first, deterministic */
}

/* Moves the k best candidates (by cmp_logit_desc) to the front, unordered:
 * quickselect, so a small top-k costs O(n) rather than a full sort. */
static void select_best(struct sampler_candidate *c, size_t n, size_t k) {
        size_t lo = 0, hi = n - 1;
        while (lo < hi) {
                struct sampler_candidate pivot = c[lo + (hi - lo) / 2], t;
                size_t i = lo, j = hi;
                while (i <= j) {
                        while (cmp_logit_desc(&c[i], &pivot) < 0)
                                i++;
                        while (cmp_logit_desc(&c[j], &pivot) > 0)
                                j--;
                        if (i <= j) {
                                t = c[i];
                                c[i] = c[j];
                                c[j] = t;
                                i++;
                                if (j == 0)
                                        break;
                                j--;
                        }
                }
                if (k - 1 <= j)
                        hi = j;
                else if (k - 1 >= i)
                        lo = i;
                else
                        break;
        }
}

/* Applies repeat (llama.cpp style: divide positive, multiply negative),
 * frequency and presence penalties over the recent tokens. */
static void apply_penalties(struct sampler *s, struct sampler_candidate *c) {
        const struct vkinfer_sampling *p = &s->params;
        if (p->repeat_penalty == 1.0f && p->frequency_penalty == 0.0f && p->presence_penalty == 0.0f)
                return;
        for (size_t i = 0; i < s->n_recent; i++) {
                int32_t t = s->recent[i];
                bool seen = false;
                int count = 0;
                for (size_t j = 0; j < s->n_recent; j++) {
                        if (s->recent[j] == t) {
                                if (j < i)
                                        seen = true;
                                count++;
                        }
                }
                if (seen || t < 0 || (size_t) t >= s->n_vocab)
                        continue; /* each distinct token once */
                float *l = &c[t].logit;
                if (*l <= 0)
                        *l *= p->repeat_penalty;
                else
                        *l /= p->repeat_penalty;
                *l -= (float) count * p->frequency_penalty + p->presence_penalty;
        }
}

int32_t sampler_sample(struct sampler *s, const float *logits) {
        const struct vkinfer_sampling *p = &s->params;
        struct sampler_candidate *c = s->cand;
        size_t n = s->n_vocab;
        for (size_t i = 0; i < n; i++)
                c[i] = (struct sampler_candidate){(int32_t) i, logits[i], 0};
        apply_penalties(s, c);

        if (p->temperature <= 0.0f) { /* greedy: lowest id wins ties */
                size_t best = 0;
                for (size_t i = 1; i < n; i++)
                        if (c[i].logit > c[best].logit)
                                best = i;
                return c[best].id;
        }

        /* top-k: keep the k best, sorted. Without top-k, sort them all. */
        size_t k = p->top_k > 0 && (size_t) p->top_k < n ? (size_t) p->top_k : n;
        if (k < n)
                select_best(c, n, k);
        qsort(c, k, sizeof(*c), cmp_logit_desc);
        n = k;

        /* Probabilities at temperature 1 for top-p and min-p, as llama.cpp. */
        double max = c[0].logit, sum = 0;
        for (size_t i = 0; i < n; i++) {
                c[i].p = (float) exp((double) c[i].logit - max);
                sum += c[i].p;
        }
        if (p->top_p < 1.0f) {
                double cum = 0;
                size_t keep = n;
                for (size_t i = 0; i < n; i++) {
                        cum += c[i].p / sum;
                        if (cum >= p->top_p) {
                                keep = i + 1;
                                break;
                        }
                }
                n = keep;
        }
        if (p->min_p > 0.0f) {
                float thresh = c[0].p * p->min_p; /* c[0].p == 1 */
                size_t keep = 1;
                while (keep < n && c[keep].p >= thresh)
                        keep++;
                n = keep;
        }

        /* Temperature, then draw. */
        sum = 0;
        for (size_t i = 0; i < n; i++) {
                double w = exp(((double) c[i].logit - max) / p->temperature);
                c[i].p = (float) w;
                sum += w;
        }
        double r = rng_uniform(s->rng) * sum, acc = 0;
        for (size_t i = 0; i < n; i++) {
                acc += c[i].p;
                if (r < acc)
                        return c[i].id;
        }
        return c[n - 1].id;
}

float sampler_logprob(const float *logits, size_t n_vocab, int32_t token) {
        double max = logits[0], sum = 0;
        for (size_t i = 1; i < n_vocab; i++)
                if (logits[i] > max)
                        max = logits[i];
        for (size_t i = 0; i < n_vocab; i++)
                sum += exp((double) logits[i] - max);
        return (float) ((double) logits[token] - max - log(sum));
}
