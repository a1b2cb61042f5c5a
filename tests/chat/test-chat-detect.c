/* Family recognition from the template text: each real template, the one
 * inside the DeepSeek-V3 GGUF, a DeepSeek-R1 template (V3 turns with the
 * reply opened by "<think>\n"), and templates that match nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat-template.h"
#include "gguf/gguf.h"
#include "harness.h"

static char *read_data(const char *rel) {
        const char *dir = getenv("VKINFER_TEST_DATA");
        char path[1024], *buf = NULL;
        struct vkinfer_err err = {{0}};
        snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", rel);
        if (read_file(path, &buf, NULL, &err) < 0)
                fprintf(stderr, "cannot read %s: %s\n", rel, err.msg);
        return buf;
}

/* Replaces the first `from` in s by `to` (malloc'd result). */
static char *replace_once(const char *s, const char *from, const char *to) {
        const char *at = strstr(s, from);
        if (!at)
                return NULL;
        size_t a = (size_t) (at - s), fl = strlen(from), tl = strlen(to), n = strlen(s);
        char *r = malloc(n - fl + tl + 1);
        if (!r)
                return NULL;
        memcpy(r, s, a);
        memcpy(r + a, to, tl);
        memcpy(r + a + tl, at + fl, n - a - fl + 1);
        return r;
}

static void test_files(void) {
        static const struct {
                const char *file;
                enum chat_family family;
                const char *name;
        } cases[] = {
                {"deepseek-ai-DeepSeek-V3.jinja", CHAT_FAMILY_DEEPSEEK_V3, "deepseek-v3"},
                {"deepseek-ai-DeepSeek-V3.1.jinja", CHAT_FAMILY_DEEPSEEK_V3_1, "deepseek-v3.1"},
                {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", CHAT_FAMILY_R1_DISTILL_QWEN, "r1-distill-qwen"},
                {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", CHAT_FAMILY_R1_DISTILL_LLAMA, "r1-distill-llama"},
                {"Qwen-Qwen2.5-7B-Instruct.jinja", CHAT_FAMILY_CHATML, "chatml"},
                {"meta-llama-Llama-3.1-8B-Instruct.jinja", CHAT_FAMILY_LLAMA3, "llama3"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char rel[256];
                snprintf(rel, sizeof(rel), "chat-templates/%s", cases[i].file);
                char *src = read_data(rel);
                CHECK(src, "%s missing", rel);
                if (!src)
                        continue;
                enum chat_family f = chat_template_detect(src);
                CHECK(f == cases[i].family, "%s: detected %s", cases[i].file, chat_family_name(f));
                CHECK(strcmp(chat_family_name(f), cases[i].name) == 0, "%s: name %s", cases[i].file, chat_family_name(f));
                struct chat_template *t = NULL;
                struct vkinfer_err err = {{0}};
                CHECK(chat_template_new(src, &t, &err) >= 0 && chat_template_family(t) == cases[i].family,
                      "%s: parsed template reports %s (%s)", cases[i].file, chat_family_name(chat_template_family(t)), err.msg);
                chat_template_free(t);
                free(src);
        }
}

static void test_r1_and_gguf(void) {
        char *v3 = read_data("chat-templates/deepseek-ai-DeepSeek-V3.jinja");
        CHECK(v3, "V3 template missing");
        if (!v3)
                return;
        /* DeepSeek-R1's template is V3's with the reply opened by "<think>\n". */
        char *r1 = replace_once(v3, "{{'<｜Assistant｜>'}}{% endif %}", "{{'<｜Assistant｜><think>\\n'}}{% endif %}");
        CHECK(r1, "V3 template no longer ends as expected");
        if (r1) {
                CHECK(chat_template_detect(r1) == CHAT_FAMILY_DEEPSEEK_R1, "R1 detected as %s", chat_family_name(chat_template_detect(r1)));
                /* And it renders the open reasoning block after the turns. */
                struct chat_message m[] = {{"user", "Hi", NULL}, {"assistant", "Hello", NULL}, {"user", "2+2?", NULL}};
                struct chat_render_opts o = {.bos_token = "<｜begin▁of▁sentence｜>", .add_generation_prompt = true};
                char *out = NULL;
                struct vkinfer_err err = {{0}};
                CHECK(chat_template_render(r1, m, 3, &o, &out, &err) >= 0, "R1 render: %s", err.msg);
                CHECK(out && strcmp(out, "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜>Hello<｜end▁of▁sentence｜>"
                                         "<｜User｜>2+2?<｜Assistant｜><think>\n") == 0, "R1 render: %s", out ? out : "(null)");
                free(out);
        }
        free(r1);
        /* A later R1 revision leaves the reply open but still drops the
         * reasoning of earlier turns. */
        char *r1b = replace_once(v3, "{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}",
                                 "{% set content = message['content'] %}{% if '</think>' in content %}"
                                 "{% set content = content.split('</think>')[-1] %}{% endif %}"
                                 "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}");
        CHECK(r1b && chat_template_detect(r1b) == CHAT_FAMILY_DEEPSEEK_R1, "R1 (reasoning dropped) detected as %s",
              r1b ? chat_family_name(chat_template_detect(r1b)) : "(no template)");
        free(r1b);

        const char *dir = getenv("VKINFER_TEST_DATA");
        char path[1024];
        snprintf(path, sizeof(path), "%s/vocab/deepseek-v3.gguf", dir ? dir : "tests/data");
        struct gguf_file *f = NULL;
        struct vkinfer_err err = {{0}};
        CHECK(gguf_open(path, &f, &err) >= 0, "open %s: %s", path, err.msg);
        if (f) {
                struct gguf_str s;
                CHECK(gguf_get_str(f, "tokenizer.chat_template", &s, &err) >= 0, "no template: %s", err.msg);
                char *tpl = gguf_str_dup(s);
                CHECK(tpl && chat_template_detect(tpl) == CHAT_FAMILY_DEEPSEEK_V3, "GGUF template detected as %s",
                      chat_family_name(chat_template_detect(tpl)));
                /* The GGUF carries exactly the published V3 template. */
                CHECK(tpl && strncmp(tpl, v3, strlen(tpl)) == 0, "GGUF template differs from the .jinja file");
                free(tpl);
                gguf_close(f);
        }
        free(v3);
}

static void test_unknown(void) {
        static const char *const unknown[] = {
                "",
                "{{ messages }}",
                "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}",
                "<|im_start|> without its end",             /* half a ChatML template */
                "<|start_header_id|>user",                   /* half a Llama 3 template */
                "<｜User｜> alone",                           /* DeepSeek markers need both turns */
                "[INST] {{ messages[0].content }} [/INST]", /* Mistral: not served */
        };
        for (size_t i = 0; i < ELEMENTSOF(unknown); i++)
                CHECK(chat_template_detect(unknown[i]) == CHAT_FAMILY_UNKNOWN, "'%s' detected as %s", unknown[i],
                      chat_family_name(chat_template_detect(unknown[i])));
        CHECK(chat_template_detect(NULL) == CHAT_FAMILY_UNKNOWN, "NULL not unknown");
        CHECK(strcmp(chat_family_name(CHAT_FAMILY_UNKNOWN), "unknown") == 0, "unknown's name");
        CHECK(strcmp(chat_family_name((enum chat_family) 99), "unknown") == 0, "bad enum's name");
        CHECK(chat_template_family(NULL) == CHAT_FAMILY_UNKNOWN, "NULL template's family");
}

int main(void) {
        test_files();
        test_r1_and_gguf();
        test_unknown();
        return test_exit("chat-detect");
}
