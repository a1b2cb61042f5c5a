/* params.h: one table of the numeric generation parameters and their ranges. */
#include "params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum param_id { MAX_TOKENS, TEMPERATURE, TOP_P, TOP_K, MIN_P, PRESENCE, FREQUENCY, REPEAT };

static const struct param {
        const char *name;
        enum param_id id;
        bool integer;
        bool min_open; /* the minimum itself is refused */
        double min, max;
} params[] = {
        {"max_tokens", MAX_TOKENS, true, false, 1, 1 << 24},
        {"max_completion_tokens", MAX_TOKENS, true, false, 1, 1 << 24},
        {"temperature", TEMPERATURE, false, false, 0, 2},
        {"top_p", TOP_P, false, true, 0, 1},
        {"top_k", TOP_K, true, false, 0, 1 << 20},
        {"min_p", MIN_P, false, false, 0, 1},
        {"presence_penalty", PRESENCE, false, false, -2, 2},
        {"frequency_penalty", FREQUENCY, false, false, -2, 2},
        {"repeat_penalty", REPEAT, false, false, 0.01, 10},
};

const char *params_key(size_t i) {
        return i < sizeof(params) / sizeof(params[0]) ? params[i].name : NULL;
}

static const struct param *find(const char *key) {
        for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
                if (strcmp(params[i].name, key) == 0)
                        return &params[i];
        return NULL;
}

bool params_is_integer(const char *key) {
        const struct param *q = find(key);
        return q && q->integer;
}

int params_set(struct vkinfer_gen_params *p, const char *key, double x, char *err, size_t size) {
        const struct param *q = find(key);
        if (!q)
                return 0;
        if (!isfinite(x) || x < q->min || x > q->max || (q->min_open && x == q->min)) {
                if (q->min_open)
                        snprintf(err, size, "'%s' must be greater than %.10g and at most %.10g", key, q->min, q->max);
                else
                        snprintf(err, size, "'%s' must be between %.10g and %.10g", key, q->min, q->max);
                return -EINVAL;
        }
        if (q->integer && x != floor(x)) {
                snprintf(err, size, "'%s' must be an integer", key);
                return -EINVAL;
        }
        struct vkinfer_sampling *s = &p->sampling;
        switch (q->id) {
        case MAX_TOKENS: p->max_tokens = (int64_t) x; break;
        case TEMPERATURE: s->temperature = (float) x; break;
        case TOP_P: s->top_p = (float) x; break;
        case TOP_K: s->top_k = (int32_t) x; break;
        case MIN_P: s->min_p = (float) x; break;
        case PRESENCE: s->presence_penalty = (float) x; break;
        case FREQUENCY: s->frequency_penalty = (float) x; break;
        case REPEAT: s->repeat_penalty = (float) x; break;
        }
        return 1;
}
