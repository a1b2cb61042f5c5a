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

static int seed_refused(char *err, size_t size) {
        snprintf(err, size, "'seed' must be a whole number from 0 to %llu, or -1 for a random one",
                 (unsigned long long) PARAMS_SEED_MAX);
        return -EINVAL;
}

int params_set_seed(struct vkinfer_sampling *s, int64_t v, char *err, size_t size) {
        if (v < -1)
                return seed_refused(err, size);
        s->has_seed = v >= 0;
        s->seed = v >= 0 ? (uint64_t) v : 0;
        return 0;
}

int params_set_seed_double(struct vkinfer_sampling *s, double d, char *err, size_t size) {
        if (!isfinite(d) || d < -1 || d >= 0x1p63 || d != floor(d))
                return seed_refused(err, size);
        return params_set_seed(s, (int64_t) d, err, size);
}

int params_check_stop(size_t len, char *err, size_t size) {
        if (len > 0)
                return 0;
        snprintf(err, size, "each stop sequence must be a non-empty string");
        return -EINVAL;
}

int params_check_stop_count(size_t n, char *err, size_t size) {
        if (n <= PARAMS_MAX_STOP)
                return 0;
        snprintf(err, size, "at most %d stop sequences", PARAMS_MAX_STOP);
        return -EINVAL;
}

const char *params_role(const char *role, char *err, size_t size) {
        static const char *const roles[] = {"system", "user", "assistant"};
        for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
                if (strcmp(role, roles[i]) == 0)
                        return roles[i];
        if (strcmp(role, "developer") == 0)
                return "system";
        snprintf(err, size, "role '%.64s' is not supported: use system, developer, user or assistant", role);
        return NULL;
}

int params_check_prompt_size(const struct vkinfer_gen_params *p, uint64_t max, char *err, size_t size) {
        uint64_t n = p->prompt ? strlen(p->prompt) : 0;
        for (size_t i = 0; i < p->n_messages; i++) {
                const struct vkinfer_message *m = &p->messages[i];
                n += (m->content ? strlen(m->content) : 0) + (m->reasoning_content ? strlen(m->reasoning_content) : 0);
        }
        if (n <= max)
                return 0;
        snprintf(err, size, "the prompt is %llu bytes, more than max-body (%llu)", (unsigned long long) n,
                 (unsigned long long) max);
        return -E2BIG;
}
