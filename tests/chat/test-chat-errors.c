/* Failures: unsupported constructs and syntax errors are refused with the
 * construct and line named, raise_exception's message is surfaced, hostile
 * templates stop at their limits, and bad API input is rejected. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/chat-template.h"
#include "chat/jinja.h"
#include "harness.h"

/* Renders src over one user message; expects failure with every needle in
 * the message. */
static void expect_fail(const char *src, const char *n1, const char *n2) {
        struct chat_message m[] = {{"user", "hi", NULL}};
        struct chat_render_opts o = {.add_generation_prompt = true};
        char *out = NULL;
        struct vkinfer_err err = {{0}};
        int r = chat_template_render(src, m, 1, &o, &out, &err);
        CHECK(r < 0, "'%.60s' rendered instead of failing: %.80s", src, out ? out : "");
        CHECK(out == NULL, "'%.60s': output set on failure", src);
        if (r < 0) {
                CHECK(strstr(err.msg, n1), "'%.60s': error '%s' lacks '%s'", src, err.msg, n1);
                CHECK(!n2 || strstr(err.msg, n2), "'%.60s': error '%s' lacks '%s'", src, err.msg, n2);
        }
        free(out);
}

static void test_unsupported(void) {
        expect_fail("{% include 'other.jinja' %}", "unsupported construct", "include");
        expect_fail("a\n{% extends 'base' %}", "line 2", "extends");
        expect_fail("{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}x{% endcall %}", "unsupported construct", "call");
        expect_fail("{% filter frobnicate %}x{% endfilter %}", "unsupported filter 'frobnicate'", NULL);
        expect_fail("{% with a = 1 %}never closed", "endwith", NULL);
        expect_fail("{% import 'm' as m %}", "unsupported construct", "import");
        expect_fail("line 1\nline 2\n{{ messages | frobnicate }}", "line 3", "unsupported filter 'frobnicate'");
        expect_fail("{{ 3 is prime }}", "unsupported test 'prime'", NULL);
        /* Unsupported filters are refused even in a branch that never runs. */
        expect_fail("{% if false %}{{ x | wordwrap }}{% endif %}", "unsupported filter 'wordwrap'", NULL);
        expect_fail("{% for x in messages recursive %}{% endfor %}", "recursive", NULL);
        expect_fail("{{ 'a{}'.format(1) }}", "unsupported construct", "format");
        expect_fail("{{ messages.append(1) }}", "unsupported construct", "append");
        expect_fail("{{ messages[0].update({}) }}", "unsupported construct", "update");
        expect_fail("{{ '%(a)s' % {'a': 1} }}", "%-formatting with a mapping", NULL);
        expect_fail("{{ '%s %s' % ('a',) }}", "not enough arguments", NULL);
        expect_fail("{{ 'x' | format(1, a=2) }}", "positional and keyword", NULL);
        expect_fail("{{ messages | tojson(ensure_ascii=true) }}", "ensure_ascii", NULL);
        expect_fail("{{ f(*messages) }}", "*args", NULL);
        expect_fail("{{ '\\N{BULLET}' }}", "\\N{", NULL);
        expect_fail("{{ loop.changed(1) }}{% for x in messages %}{{ loop.changed(x) }}{% endfor %}", "'loop' is undefined", NULL);
        expect_fail("{% for x in messages %}{{ loop.revcycle }}{% endfor %}", "loop.revcycle", NULL);
}

static void test_syntax(void) {
        expect_fail("{{ messages", "unterminated", "{{ }}");
        expect_fail("ok\n{% if true", "line 2", "unterminated");
        expect_fail("{% if true %}never closed", "endif", "line 1");
        expect_fail("{% for m in messages %}x", "endfor", NULL);
        expect_fail("{# open comment", "comment", NULL);
        expect_fail("{% raw %}no end", "endraw", NULL);
        expect_fail("{% endif %}", "endif", "no open block");
        expect_fail("{{ 'unterminated }}", "unterminated string", NULL);
        expect_fail("{{ (1 + 2 }}", "unexpected '}', expected ')'", NULL);
        expect_fail("{{ 1 ) }}", "unexpected ')'", NULL);
        expect_fail("{{ }}", "expected an expression", NULL);
        expect_fail("{% %}", "tag name", NULL);
        expect_fail("{{ a b }}", "expected '}}'", NULL);
        expect_fail("{{ 1 $ 2 }}", "unexpected character '$'", NULL);
        expect_fail("{{ 99999999999999999999 }}", "64 bits", NULL);
        expect_fail("{{ 'x' is not }}", "test name", NULL);
        expect_fail("{% set %}", "variable name", NULL);
        expect_fail("{% macro m(a=1, b) %}{% endmacro %}", "non-default", NULL);
        expect_fail("bad \xff byte", "UTF-8", NULL);
        expect_fail("{{ '\\x4' }}", "truncated", NULL);
}

static void test_runtime(void) {
        expect_fail("{{ raise_exception('Conversation roles must alternate user/assistant') }}",
                    "raise_exception: Conversation roles must alternate user/assistant", "line 1");
        /* The Llama 3.1 template's own check, reached through its logic. */
        expect_fail("{% if messages | length != 2 %}{{ raise_exception('need ' ~ 2 ~ ' messages') }}{% endif %}",
                    "raise_exception: need 2 messages", NULL);
        expect_fail("{{ nothing.attr }}", "'nothing' is undefined", NULL);
        expect_fail("{{ messages[0].missing.deeper }}", "has no attribute 'missing'", NULL);
        expect_fail("{{ messages[5].role }}", "no element 5", NULL);
        expect_fail("{{ 1 + 'a' }}", "unsupported operand", "'int' and 'str'");
        expect_fail("{{ 1 / 0 }}", "division by zero", NULL);
        expect_fail("{{ 1 // 0 }}", "modulo by zero", NULL);
        expect_fail("{{ none < 1 }}", "not supported between", NULL);
        expect_fail("{{ 1 in 2 }}", "not iterable", NULL);
        expect_fail("{% for x in 5 %}{% endfor %}", "not iterable", NULL);
        expect_fail("{% for x in none %}{% endfor %}", "NoneType", NULL);
        expect_fail("{% set a, b = [1, 2, 3] %}", "unpack", NULL);
        expect_fail("{% set x = 1 %}{% set x.y = 2 %}", "non-namespace", NULL);
        expect_fail("{{ 9223372036854775807 + 1 }}", "overflow", NULL);
        expect_fail("{{ messages | tojson }}{{ namespace(a=1) | tojson }}", "not JSON serializable", NULL);
        expect_fail("{{ nothing | tojson }}", "'nothing' is undefined", NULL);
        expect_fail("{{ strftime_now(5) }}", "strftime_now", NULL);
        expect_fail("{{ range(0) }}{{ 'x'.split('') }}", "empty separator", NULL);
        expect_fail("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", "takes 1 arguments", NULL);
        expect_fail("{{ messages[0] | items | first | first | abs }}", "abs()", NULL);
        expect_fail("a{{ '\\x00' }}b", "NUL", NULL);
}

static void expect_limit(const char *src, const struct jinja_limits *lim, const char *needle) {
        struct jinja_template *t = NULL;
        struct vkinfer_err err = {{0}};
        char *out = NULL;
        int r = jinja_parse(src, strlen(src), &t, &err);
        if (r >= 0)
                r = jinja_render(t, NULL, 0, NULL, lim, &out, NULL, &err);
        CHECK(r < 0, "'%.60s' was not stopped", src);
        CHECK(r >= 0 || strstr(err.msg, needle), "'%.60s': error '%s' lacks '%s'", src, err.msg, needle);
        free(out);
        jinja_template_free(t);
}

static void test_hostile(void) {
        struct jinja_limits small = {.max_output = 1 << 16, .max_memory = 8 << 20, .max_steps = 100000, .max_depth = 64};
        expect_limit("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", &small, "steps");
        expect_limit("{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}", &small, "output");
        expect_limit("{{ 'x' * 1000000000000 }}", &small, "limit");
        expect_limit("{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", &small, "limit");
        expect_limit("{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", &small, "limit");
        expect_limit("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", &small, "deeper");
        expect_limit("{{ range(1000000000) | length }}", &small, "range()");
        expect_limit("{{ [1, 2] * 100000000 }}", &small, "limit");

        /* Nesting that would overflow a recursive parser's stack. */
        size_t depth = 100000;
        char *deep = malloc(2 * depth + 16);
        if (deep) {
                strcpy(deep, "{{ ");
                memset(deep + 3, '(', depth);
                strcpy(deep + 3 + depth, "1");
                memset(deep + 4 + depth, ')', depth);
                strcpy(deep + 4 + 2 * depth, " }}");
                expect_limit(deep, NULL, "nested deeper");
                memset(deep + 3, '[', 2 * depth);
                deep[2 * depth + 3] = 0;
                expect_limit(deep, NULL, "nested deeper");
                free(deep);
        }
        char *ifs = malloc(20000 * 14 + 1);
        if (ifs) {
                for (size_t i = 0; i < 20000; i++)
                        memcpy(ifs + i * 13, "{% if true %}", 13);
                ifs[20000 * 13] = 0;
                expect_limit(ifs, NULL, "nested deeper");
                free(ifs);
        }
        /* A long flat chain parses without recursion but nests when evaluated. */
        char *chain = malloc(4 * 100000 + 16);
        if (chain) {
                strcpy(chain, "{{ 1");
                for (size_t i = 0; i < 100000; i++)
                        memcpy(chain + 4 + 4 * i, " + 1", 4);
                strcpy(chain + 4 + 4 * 100000, " }}");
                expect_limit(chain, NULL, "nested deeper");
                free(chain);
        }
        char *nots = malloc(4 * 100000 + 16);
        if (nots) {
                strcpy(nots, "{{ ");
                for (size_t i = 0; i < 100000; i++)
                        memcpy(nots + 3 + 4 * i, "not ", 4);
                strcpy(nots + 3 + 4 * 100000, "1 }}");
                expect_limit(nots, NULL, "nested deeper");
                free(nots);
        }

        /* The default limits hold too, and quickly. */
        clock_t t0 = clock();
        expect_limit("{% for i in range(1000000) %}{% for j in range(1000000) %}{{ j }}{% endfor %}{% endfor %}", NULL, "");
        double secs = (double) (clock() - t0) / CLOCKS_PER_SEC;
        CHECK(secs < 60, "default step limit took %.1f s", secs);
}

static void test_api(void) {
        struct vkinfer_err err = {{0}};
        char *out = (char *) "untouched";
        struct chat_template *t = NULL;
        CHECK(chat_template_new(NULL, &t, &err) < 0 && t == NULL, "NULL template accepted");
        CHECK(chat_template_new("{{ x", &t, &err) < 0 && t == NULL, "bad template accepted");
        CHECK(chat_template_free(NULL) == NULL, "free(NULL)");
        CHECK(chat_template_new("{{ messages | length }}|{{ add_generation_prompt }}|{{ bos_token }}", &t, &err) >= 0, "%s", err.msg);
        json_t *obj = json_object();
        CHECK(chat_template_apply(t, obj, NULL, &out, &err) < 0 && strstr(err.msg, "array"), "object as messages: %s", err.msg);
        json_decref(obj);
        CHECK(strcmp(out, "untouched") == 0, "ret changed on failure");
        json_t *arr = json_array();
        CHECK(chat_template_apply(t, arr, NULL, &out, &err) >= 0 && strcmp(out, "0|False|") == 0, "NULL opts: %s", err.msg);
        free(out);
        const char *names[] = {"flag"}, *bad[] = {"{not json"};
        struct chat_render_opts o = {.var_names = names, .var_values_json = bad, .n_vars = 1};
        CHECK(chat_template_apply(t, arr, &o, &out, &err) < 0 && strstr(err.msg, "flag"), "bad var JSON: %s", err.msg);
        json_decref(arr);
        chat_template_free(t);

        /* Extra variables override the defaults and reach the template as JSON. */
        const char *vn[] = {"bos_token", "n", "obj"}, *vv[] = {"\"<B>\"", "2.5", "{\"k\": [1, null]}"};
        struct chat_render_opts o2 = {.bos_token = "<s>", .var_names = vn, .var_values_json = vv, .n_vars = 3};
        struct chat_message m[] = {{"user", NULL, "why"}};
        CHECK(chat_template_render("{{ bos_token }} {{ n * 2 }} {{ obj.k }} {{ messages[0].content is none }} {{ messages[0].reasoning_content }}",
                                   m, 1, &o2, &out, &err) >= 0, "%s", err.msg);
        CHECK(strcmp(out, "<B> 5.0 [1, None] True why") == 0, "got '%s'", out);
        free(out);

        /* transformers' {% generation %} marks assistant text and renders it unchanged. */
        CHECK(chat_template_render("a{% generation %}b{{ 1 }}{% endgeneration %}c", m, 1, NULL, &out, &err) >= 0, "%s", err.msg);
        CHECK(strcmp(out, "ab1c") == 0, "generation: '%s'", out);
        free(out);

        /* As in transformers, tools and documents are None unless given. */
        CHECK(chat_template_render("{{ tools is none }} {{ documents is none }} {{ unk is defined }}", m, 1, NULL, &out, &err) >= 0, "%s", err.msg);
        CHECK(strcmp(out, "True True False") == 0, "defaults: '%s'", out);
        free(out);
        const char *tn[] = {"tools"}, *tv[] = {"[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]"};
        struct chat_render_opts ot = {.var_names = tn, .var_values_json = tv, .n_vars = 1};
        CHECK(chat_template_render("{% for t in tools %}{{ t.function.name }}{{ t | tojson }}{% endfor %}", m, 1, &ot, &out, &err) >= 0, "%s", err.msg);
        CHECK(strcmp(out, "f{\"type\": \"function\", \"function\": {\"name\": \"f\"}}") == 0, "tools: '%s'", out);
        free(out);

        struct chat_message badm[] = {{"user", "bad \xc3", NULL}};
        out = (char *) "untouched";
        CHECK(chat_template_render("{{ 1 }}", badm, 1, NULL, &out, &err) < 0 && strstr(err.msg, "UTF-8"), "invalid UTF-8 content: %s", err.msg);
        struct chat_message norole[] = {{NULL, "x", NULL}};
        CHECK(chat_template_render("{{ 1 }}", norole, 1, NULL, &out, &err) < 0 && strstr(err.msg, "role"), "missing role: %s", err.msg);
        CHECK(strcmp(out, "untouched") == 0, "ret changed on failure");

        /* The date is injectable; a malformed one is refused. */
        struct chat_render_opts od = {.date_override = "2024-02-29"};
        CHECK(chat_template_render("{{ strftime_now('%d %b %Y, %A') }}", m, 1, &od, &out, &err) >= 0, "%s", err.msg);
        CHECK(strcmp(out, "29 Feb 2024, Thursday") == 0, "date: '%s'", out);
        free(out);
        od.date_override = "yesterday";
        CHECK(chat_template_render("{{ strftime_now('%d') }}", m, 1, &od, &out, &err) < 0 && strstr(err.msg, "YYYY-MM-DD"), "bad date: %s", err.msg);
        od.date_override = NULL;
        CHECK(chat_template_render("{{ strftime_now('%Y') | length }}", m, 1, &od, &out, &err) >= 0 && strcmp(out, "4") == 0, "today: %s", err.msg);
        free(out);
}

int main(void) {
        test_unsupported();
        test_syntax();
        test_runtime();
        test_hostile();
        test_api();
        return test_exit("chat-errors");
}
