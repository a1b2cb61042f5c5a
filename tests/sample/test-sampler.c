/* The sampler against the distributions it must draw from. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "sample/sampler.h"

static struct vkinfer_sampling defaults(void) {
        return (struct vkinfer_sampling){.temperature = 1, .top_p = 1, .repeat_penalty = 1, .seed = 42, .has_seed = true};
}

/* Frequencies of n draws over a 3-token vocabulary. */
static void draw(struct vkinfer_sampling p, const float *logits, int n, double *freq) {
        struct sampler s;
        sampler_init(&s, &p, 3);
        int count[3] = {0};
        for (int i = 0; i < n; i++)
                count[sampler_sample(&s, logits)]++;
        for (int i = 0; i < 3; i++)
                freq[i] = (double) count[i] / n;
        sampler_finish(&s);
}

int main(void) {
        const float probs[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
        double f[3];
        struct vkinfer_sampling p = defaults();

        /* Plain draws follow softmax(logits). */
        draw(p, probs, 40000, f);
        CHECK(fabs(f[0] - 0.5) < 0.015 && fabs(f[1] - 0.3) < 0.015 && fabs(f[2] - 0.2) < 0.015,
              "plain: %.3f %.3f %.3f", f[0], f[1], f[2]);

        /* Temperature 0.5 squares the probabilities. */
        p.temperature = 0.5f;
        draw(p, probs, 40000, f);
        CHECK(fabs(f[0] - 0.25 / 0.38) < 0.015 && fabs(f[2] - 0.04 / 0.38) < 0.01, "temp 0.5: %.3f %.3f %.3f", f[0],
              f[1], f[2]);

        /* top-p 0.6 keeps {0, 1}; min-p 0.5 keeps {0, 1}; top-k 1 keeps {0}. */
        p = defaults();
        p.top_p = 0.6f;
        draw(p, probs, 20000, f);
        CHECK(f[2] == 0 && fabs(f[0] - 0.625) < 0.02, "top-p: %.3f %.3f %.3f", f[0], f[1], f[2]);
        p = defaults();
        p.min_p = 0.5f;
        draw(p, probs, 20000, f);
        CHECK(f[2] == 0 && f[1] > 0.3, "min-p: %.3f %.3f %.3f", f[0], f[1], f[2]);
        p = defaults();
        p.top_k = 1;
        p.temperature = 1.5f;
        draw(p, probs, 2000, f);
        CHECK(f[0] == 1.0, "top-k 1: %.3f", f[0]);
        p.top_k = 2;
        draw(p, probs, 20000, f);
        CHECK(f[2] == 0 && f[1] > 0.3, "top-k 2: %.3f %.3f %.3f", f[0], f[1], f[2]);

        /* Greedy: argmax, ties to the lower id; repeat penalty moves it. */
        const float flat[3] = {1.0f, 1.0f, 0.5f};
        struct sampler s;
        p = defaults();
        p.temperature = 0;
        sampler_init(&s, &p, 3);
        CHECK(sampler_sample(&s, flat) == 0, "greedy tie");
        sampler_finish(&s);
        p.repeat_penalty = 1.3f;
        sampler_init(&s, &p, 3);
        sampler_accept(&s, 0);
        CHECK(sampler_sample(&s, flat) == 1, "repeat penalty");
        sampler_finish(&s);
        p.repeat_penalty = 1;
        p.presence_penalty = 0.6f;
        sampler_init(&s, &p, 3);
        sampler_accept(&s, 0);
        sampler_accept(&s, 1);
        CHECK(sampler_sample(&s, flat) == 2, "presence penalty");
        sampler_finish(&s);

        /* Same seed, same tokens; another seed, other tokens. */
        float big[1000];
        struct test_rng rng = {7};
        for (int i = 0; i < 1000; i++)
                big[i] = test_rng_float(&rng) * 3;
        int32_t a[64], b[64], c[64];
        for (int run = 0; run < 3; run++) {
                p = defaults();
                p.seed = run == 2 ? 43 : 42;
                p.top_k = 40;
                p.top_p = 0.95f;
                sampler_init(&s, &p, 1000);
                for (int i = 0; i < 64; i++)
                        (run == 0 ? a : run == 1 ? b : c)[i] = sampler_sample(&s, big);
                sampler_finish(&s);
        }
        CHECK(memcmp(a, b, sizeof(a)) == 0, "same seed differs");
        CHECK(memcmp(a, c, sizeof(a)) != 0, "other seed same");

        /* logprob is a log-softmax. */
        CHECK(fabsf(sampler_logprob(probs, 3, 1) - logf(0.3f)) < 1e-5f, "logprob %f", sampler_logprob(probs, 3, 1));
        return test_exit("sampler");
}
