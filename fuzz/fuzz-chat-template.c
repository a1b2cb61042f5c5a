/* libFuzzer target: any bytes as a chat template, parsed and rendered over a
 * fixed conversation with small limits. It must never crash, hang or leak;
 * failing with an error is fine. Built with -Dfuzz=true (clang). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja.h"

static const char messages_json[] =
        "[{\"role\": \"system\", \"content\": \"Be brief.\"},"
        "{\"role\": \"user\", \"content\": \"Hi \\u00e9 \\ud83d\\ude00\"},"
        "{\"role\": \"assistant\", \"content\": \"<think>x</think>\\n\\nok\", \"tool_calls\": "
        "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": {\"a\": [1, 2.5, null, true]}}}]},"
        "{\"role\": \"tool\", \"content\": null}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct jinja_var vars[3];
        if (!vars[0].value) {
                vars[0] = (struct jinja_var){"messages", json_loads(messages_json, 0, NULL)};
                vars[1] = (struct jinja_var){"add_generation_prompt", json_true()};
                vars[2] = (struct jinja_var){"bos_token", json_string("<s>")};
        }
        struct jinja_template *t = NULL;
        struct vkinfer_err err;
        if (jinja_parse((const char *) data, size, &t, &err) < 0)
                return 0;
        struct jinja_limits lim = {.max_output = 1 << 20, .max_memory = 32 << 20, .max_steps = 200000, .max_depth = 200};
        char *out = NULL;
        if (jinja_render(t, vars, 3, "2026-11-22", &lim, &out, NULL, &err) >= 0)
                free(out);
        jinja_template_free(t);
        return 0;
}
