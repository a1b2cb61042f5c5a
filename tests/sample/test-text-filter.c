/* Stop strings across token boundaries, and <think> reasoning split off. */
#include <string.h>

#include "harness.h"
#include "sample/text-filter.h"

struct result {
        char content[256], reasoning[256];
        bool stopped;
};

static struct result run(const char *const *stop, size_t n_stop, bool think, bool in_think, const char *const *pieces) {
        struct text_filter f;
        struct text_out c = {0}, r = {0};
        struct result res = {0};
        text_filter_init(&f, stop, n_stop, think, in_think);
        for (size_t i = 0; pieces[i] && !res.stopped; i++)
                res.stopped = text_filter_feed(&f, pieces[i], strlen(pieces[i]), &c, &r);
        text_filter_flush(&f, &c, &r);
        snprintf(res.content, sizeof(res.content), "%s", c.p ? c.p : "");
        snprintf(res.reasoning, sizeof(res.reasoning), "%s", r.p ? r.p : "");
        text_out_reset(&c);
        text_out_reset(&r);
        text_filter_finish(&f);
        return res;
}

int main(void) {
        const char *stops[] = {"END", "\n\nUser:"};
        struct result r;

        r = run(stops, 2, false, false, (const char *const[]){"foo E", "N", "D bar", NULL});
        CHECK(r.stopped && strcmp(r.content, "foo ") == 0, "spanning stop: '%s'", r.content);
        r = run(stops, 2, false, false, (const char *const[]){"foo E", "NX", NULL});
        CHECK(!r.stopped && strcmp(r.content, "foo ENX") == 0, "false prefix: '%s'", r.content);
        r = run(stops, 2, false, false, (const char *const[]){"tail E", NULL});
        CHECK(!r.stopped && strcmp(r.content, "tail E") == 0, "flush held: '%s'", r.content);
        r = run(stops, 2, false, false, (const char *const[]){"a\n", "\nUs", "er: b", NULL});
        CHECK(r.stopped && strcmp(r.content, "a") == 0, "multi-token stop: '%s'", r.content);
        r = run(stops, 2, false, false, (const char *const[]){"xENDy", NULL});
        CHECK(r.stopped && strcmp(r.content, "x") == 0, "stop inside a token: '%s'", r.content);

        r = run(NULL, 0, true, true, (const char *const[]){"let me think", "</th", "ink>", "The answer", NULL});
        CHECK(strcmp(r.reasoning, "let me think") == 0 && strcmp(r.content, "The answer") == 0,
              "R1 reasoning: '%s' / '%s'", r.reasoning, r.content);
        r = run(NULL, 0, true, false, (const char *const[]){"<think>", "abc</think>", "def", NULL});
        CHECK(strcmp(r.reasoning, "abc") == 0 && strcmp(r.content, "def") == 0, "open tag: '%s' / '%s'", r.reasoning,
              r.content);
        r = run(NULL, 0, true, false, (const char *const[]){"a <thx", "<t", NULL});
        CHECK(strcmp(r.content, "a <thx<t") == 0 && r.reasoning[0] == 0, "not a tag: '%s'", r.content);
        r = run(NULL, 0, true, false, (const char *const[]){"<<think>x</think>y", NULL});
        CHECK(strcmp(r.content, "<y") == 0 && strcmp(r.reasoning, "x") == 0, "overlap: '%s' / '%s'", r.content,
              r.reasoning);
        r = run(NULL, 0, false, false, (const char *const[]){"<think>kept</think>", NULL});
        CHECK(strcmp(r.content, "<think>kept</think>") == 0, "no parsing: '%s'", r.content);
        return test_exit("text-filter");
}
