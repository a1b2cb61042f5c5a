/* libFuzzer target: any bytes as the body of POST /v1/chat/completions and
 * /v1/completions (first byte picks which), through api_request_parse, the
 * one-size check both front ends share, and the response builders over what
 * it parsed (they read the request's strings). A refusal must come with a
 * message; nothing may crash, hang or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        enum api_kind kind = data[0] & 1 ? API_COMPLETION : API_CHAT;
        struct api_request r;
        char err[512] = "";
        const char *param = NULL;
        int ret = api_request_parse(kind, (const char *) data + 1, size - 1, &r, err, sizeof(err), &param);
        if (ret < 0) {
                if (err[0] == 0)
                        abort(); /* every refusal says why */
                char *e = api_error_json(400, err, param);
                free(e);
        } else {
                char why[160];
                params_check_prompt_size(&r.params, 1 << 20, why, sizeof(why));
                char *a = api_completion_json(&r, "id", 1, "text", "think", NULL, VKINFER_FINISH_STOP, 3, 4);
                char *b = api_chunk_event(&r, "id", 1, "t", NULL, NULL, true, VKINFER_FINISH_LENGTH);
                char *c = api_usage_event(&r, "id", 1, 3, 4);
                free(a);
                free(b);
                free(c);
        }
        api_request_done(&r);
        return 0;
}
