/* Renders every reference case and compares byte for byte:
 *  - renderings.json: the six real chat templates (DeepSeek V3/V3.1, the R1
 *    distills on Qwen and Llama, Qwen2.5, Llama 3.1) as Hugging Face renders
 *    them;
 *  - jinja-cases.json: small templates exercising the interpreter (whitespace
 *    control, Python semantics of str/repr/json, filters, tests, scoping),
 *    rendered by Jinja2 with the same settings.
 * Also checks that the struct chat_message API and a reused parsed template
 * give the same bytes as the JSON API. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat-template.h"
#include "harness.h"

static char *data_path(const char *rel) {
        const char *dir = getenv("VKINFER_TEST_DATA");
        char *p;
        if (asprintf(&p, "%s/%s", dir ? dir : "tests/data", rel) < 0)
                return NULL;
        return p;
}

static char *read_data(const char *rel) {
        char *path = data_path(rel), *buf = NULL;
        struct vkinfer_err err = {{0}};
        if (!path || read_file(path, &buf, NULL, &err) < 0)
                fprintf(stderr, "cannot read %s: %s\n", rel, err.msg);
        free(path);
        return buf;
}

static json_t *load_json(const char *rel) {
        char *s = read_data(rel);
        json_error_t jerr;
        json_t *j = s ? json_loads(s, 0, &jerr) : NULL;
        if (s && !j)
                fprintf(stderr, "%s: %s at line %d\n", rel, jerr.text, jerr.line);
        free(s);
        return j;
}

static void show_diff(const char *got, const char *want) {
        size_t i = 0;
        while (got[i] && got[i] == want[i])
                i++;
        size_t from = i > 40 ? i - 40 : 0;
        fprintf(stderr, "  first difference at byte %zu\n  got:  \"%.*s\"\n  want: \"%.*s\"\n", i, 120, got + from, 120, want + from);
}

/* The struct API must agree where messages are plain role/content pairs. */
static void check_struct_api(const char *tpl, json_t *msgs, const struct chat_render_opts *opts, const char *want, size_t idx) {
        size_t n = json_array_size(msgs);
        struct chat_message *cm = calloc(n + 1, sizeof(*cm));
        bool plain = cm != NULL;
        for (size_t i = 0; plain && i < n; i++) {
                json_t *m = json_array_get(msgs, i);
                plain = json_object_size(m) == 2 && json_is_string(json_object_get(m, "role")) &&
                        json_is_string(json_object_get(m, "content"));
                if (plain) {
                        cm[i].role = json_string_value(json_object_get(m, "role"));
                        cm[i].content = json_string_value(json_object_get(m, "content"));
                }
        }
        if (plain) {
                char *out = NULL;
                struct vkinfer_err err = {{0}};
                int r = chat_template_render(tpl, cm, n, opts, &out, &err);
                CHECK(r >= 0 && strcmp(out, want) == 0, "case %zu: struct API differs (%d: %s)", idx, r, err.msg);
                free(out);
        }
        free(cm);
}

static void test_renderings(void) {
        json_t *cases = load_json("chat-templates/renderings.json");
        CHECK(json_is_array(cases) && json_array_size(cases) > 0, "renderings.json missing or empty");
        if (!cases)
                return;
        size_t idx, matched = 0, per_template[8] = {0};
        const char *names[8] = {0};
        size_t n_names = 0;
        json_t *c;
        json_array_foreach(cases, idx, c) {
                const char *tname = json_string_value(json_object_get(c, "template"));
                const char *want = json_string_value(json_object_get(c, "expected"));
                json_t *msgs = json_object_get(c, "messages"), *think = json_object_get(c, "enable_thinking");
                char rel[256];
                snprintf(rel, sizeof(rel), "chat-templates/%s", tname ? tname : "?");
                char *tpl = read_data(rel);
                CHECK(tpl && want, "case %zu: template %s or expected text missing", idx, rel);
                if (!tpl || !want) {
                        free(tpl);
                        continue;
                }
                const char *var_names[1] = {"enable_thinking"};
                const char *var_vals[1] = {json_is_true(think) ? "true" : "false"};
                struct chat_render_opts opts = {
                        .bos_token = json_string_value(json_object_get(c, "bos_token")),
                        .eos_token = json_string_value(json_object_get(c, "eos_token")),
                        .add_generation_prompt = json_is_true(json_object_get(c, "add_generation_prompt")),
                        .var_names = var_names,
                        .var_values_json = var_vals,
                        .n_vars = json_is_null(think) || !think ? 0 : 1,
                        .date_override = "2026-11-22",
                };
                char *out = NULL;
                struct vkinfer_err err = {{0}};
                int r = chat_template_render_json(tpl, msgs, &opts, &out, &err);
                CHECK(r >= 0, "case %zu (%s): render failed: %s", idx, tname, err.msg);
                if (r >= 0) {
                        bool ok = strcmp(out, want) == 0;
                        CHECK(ok, "case %zu (%s): rendering differs", idx, tname);
                        if (!ok)
                                show_diff(out, want);
                        else {
                                matched++;
                                size_t k = 0;
                                while (k < n_names && strcmp(names[k], tname) != 0)
                                        k++;
                                if (k == n_names && n_names < 8)
                                        names[n_names++] = tname;
                                if (k < 8)
                                        per_template[k]++;
                        }
                        free(out);
                }
                check_struct_api(tpl, msgs, &opts, want, idx);
                free(tpl);
        }
        fprintf(stderr, "renderings.json: %zu of %zu cases match byte for byte\n", matched, json_array_size(cases));
        for (size_t k = 0; k < n_names; k++)
                fprintf(stderr, "  %-50s %zu\n", names[k], per_template[k]);
        CHECK(n_names == 6, "expected cases for 6 templates, saw %zu", n_names);
        json_decref(cases);
}

static void test_jinja_cases(void) {
        json_t *root = load_json("chat-templates/jinja-cases.json");
        json_t *cases = json_object_get(root, "cases"), *msgs = json_object_get(root, "messages");
        CHECK(json_is_array(cases) && json_array_size(cases) > 50, "jinja-cases.json missing or short");
        struct chat_render_opts opts = {
                .bos_token = json_string_value(json_object_get(root, "bos_token")),
                .eos_token = json_string_value(json_object_get(root, "eos_token")),
                .add_generation_prompt = true,
                .date_override = json_string_value(json_object_get(root, "date")),
        };
        size_t idx, matched = 0;
        json_t *c;
        json_array_foreach(cases, idx, c) {
                const char *tpl = json_string_value(json_object_get(c, "template"));
                const char *want = json_string_value(json_object_get(c, "expected"));
                char *out = NULL;
                struct vkinfer_err err = {{0}};
                struct chat_template *t = NULL;
                int r = chat_template_new(tpl, &t, &err);
                if (r >= 0)
                        r = chat_template_apply(t, msgs, &opts, &out, &err);
                CHECK(r >= 0, "jinja case %zu failed: %s\n  template: %s", idx, err.msg, tpl);
                if (r >= 0) {
                        bool ok = strcmp(out, want) == 0;
                        CHECK(ok, "jinja case %zu differs\n  template: %s", idx, tpl);
                        if (!ok)
                                show_diff(out, want);
                        matched += ok;
                        /* A parsed template renders the same twice. */
                        char *again = NULL;
                        CHECK(chat_template_apply(t, msgs, &opts, &again, &err) >= 0 && strcmp(again, out) == 0,
                              "jinja case %zu: second rendering differs", idx);
                        free(again);
                }
                free(out);
                chat_template_free(t);
        }
        fprintf(stderr, "jinja-cases.json: %zu of %zu cases match\n", matched, json_array_size(cases));
        json_decref(root);
}

/* One parsed template rendered from several threads at once. */
struct thread_job {
        const struct chat_template *t;
        json_t *msgs;
        const struct chat_render_opts *opts;
        const char *want;
        int bad;
};

static void *render_thread(void *arg) {
        struct thread_job *job = arg;
        for (int i = 0; i < 50; i++) {
                char *out = NULL;
                struct vkinfer_err err;
                if (chat_template_apply(job->t, job->msgs, job->opts, &out, &err) < 0 || strcmp(out, job->want) != 0)
                        job->bad++;
                free(out);
        }
        return NULL;
}

static void test_threads(void) {
        json_t *cases = load_json("chat-templates/renderings.json");
        json_t *c = json_array_get(cases, json_array_size(cases) - 1); /* a Llama 3.1 case */
        char rel[256];
        snprintf(rel, sizeof(rel), "chat-templates/%s", json_string_value(json_object_get(c, "template")));
        char *src = read_data(rel);
        struct chat_template *t = NULL;
        struct vkinfer_err err = {{0}};
        CHECK(src && chat_template_new(src, &t, &err) >= 0, "parse %s: %s", rel, err.msg);
        if (t) {
                struct chat_render_opts opts = {
                        .bos_token = json_string_value(json_object_get(c, "bos_token")),
                        .eos_token = json_string_value(json_object_get(c, "eos_token")),
                        .add_generation_prompt = json_is_true(json_object_get(c, "add_generation_prompt")),
                };
                struct thread_job jobs[4];
                pthread_t th[4];
                for (int i = 0; i < 4; i++) {
                        jobs[i] = (struct thread_job){t, json_object_get(c, "messages"), &opts,
                                                      json_string_value(json_object_get(c, "expected")), 0};
                        CHECK(pthread_create(&th[i], NULL, render_thread, &jobs[i]) == 0, "pthread_create");
                }
                for (int i = 0; i < 4; i++) {
                        pthread_join(th[i], NULL);
                        CHECK(jobs[i].bad == 0, "thread %d: %d renderings differ", i, jobs[i].bad);
                }
        }
        chat_template_free(t);
        free(src);
        json_decref(cases);
}

int main(void) {
        test_renderings();
        test_jinja_cases();
        test_threads();
        return test_exit("chat-render");
}
