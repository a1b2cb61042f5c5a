/* libFuzzer target: any bytes as a chat template, parsed and rendered over a
 * fixed conversation with small limits. It must never crash, hang or leak;
 * failing with an error is fine. Built only with clang (-Dfuzz=...). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja.h"

static const char messages_json[] =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
        "{\"role\": \"user\", \"content\": \"Hi \\u00e9 \\ud83d\\ude00\"},"
        "{\"role\": \"assistant\", \"content\": \"<think>x</think>\\n\\nok\", \"tool_calls\": "
        "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": {\"a\": [1, 2.5, null, true]}}}]},"
        "{\"role\": \"tool\", \"content\": null}], \"add_generation_prompt\": true, \"bos_token\": \"<s>\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static json_t *vars;
        if (!vars)
                vars = json_loads(messages_json, 0, NULL);
        struct jinja_template *t = NULL;
        struct vkinfer_err err;
        if (jinja_parse((const char *) data, size, &t, &err) < 0)
                return 0;
        struct jinja_limits lim = {.max_output = 1 << 20, .max_memory = 32 << 20, .max_steps = 200000, .max_depth = 200};
        char *out = NULL;
        if (jinja_render(t, vars, "2026-11-22", &lim, &out, NULL, &err) >= 0)
                free(out);
        jinja_template_free(t);
        return 0;
}
