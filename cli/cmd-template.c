/* vkinfer template: renders a JSON array of messages (standard input) with
 * a model's chat template, byte for byte, with no newline of its own. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat-template.h"
#include "commands.h"
#include "gguf/gguf.h"

static void usage(FILE *out) {
        fprintf(out,
                "Usage: vkinfer template [--model FILE.gguf | --template FILE.jinja] [OPTIONS] < messages.json\n"
                "\n"
                "Renders the JSON array of messages on standard input with the chat template\n"
                "and prints the prompt exactly, with no trailing newline.\n"
                "\n"
                "  --model FILE            template, BOS and EOS from the GGUF file\n"
                "  --template FILE         template from a Jinja file\n"
                "  --bos S, --eos S        BOS / EOS token text (default: the model's)\n"
                "  --no-generation-prompt  do not open the assistant's turn\n"
                "  --var NAME=VALUE        template variable; VALUE is JSON when it parses,\n"
                "                          else a string (e.g. --var enable_thinking=true)\n"
                "  --date YYYY-MM-DD       the date strftime_now() sees (default: today)\n"
                "  --detect                print the template's family instead of rendering\n");
}

/* Token text of the id stored under key, or NULL when absent. */
static char *gguf_token_text(const struct gguf_file *f, const char *key, struct vkinfer_err *err, int *ret_r) {
        uint32_t id;
        const struct gguf_value *toks;
        int r = gguf_get_u32(f, key, &id, err);
        *ret_r = 0;
        if (r == -ENOENT)
                return NULL;
        if (r < 0 || (r = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks, err)) < 0) {
                *ret_r = r;
                return NULL;
        }
        if (id >= toks->arr.n) {
                *ret_r = err_set(err, -EINVAL, "%s = %" PRIu32 " is not a token id (vocabulary of %" PRIu64 ")", key, id, toks->arr.n);
                return NULL;
        }
        char *s = gguf_str_dup(toks->arr.strs[id]);
        if (!s)
                *ret_r = err_set(err, -ENOMEM, "out of memory");
        return s;
}

static int load_model(const char *path, char **ret_tpl, char **ret_bos, char **ret_eos, struct vkinfer_err *err) {
        struct gguf_file *f;
        struct gguf_str s;
        int r = gguf_open(path, &f, err);
        if (r < 0)
                return r;
        r = gguf_get_str(f, "tokenizer.chat_template", &s, err);
        if (r == -ENOENT)
                r = err_set(err, r, "%s has no tokenizer.chat_template; pass --template", path);
        if (r >= 0 && !(*ret_tpl = gguf_str_dup(s)))
                r = err_set(err, -ENOMEM, "out of memory");
        if (r >= 0)
                *ret_bos = gguf_token_text(f, "tokenizer.ggml.bos_token_id", err, &r);
        if (r >= 0)
                *ret_eos = gguf_token_text(f, "tokenizer.ggml.eos_token_id", err, &r);
        gguf_close(f);
        return r;
}

int cmd_template(int argc, char **argv) {
        enum { OPT_MODEL = 256, OPT_TEMPLATE, OPT_BOS, OPT_EOS, OPT_NO_GEN, OPT_VAR, OPT_DATE, OPT_DETECT };
        static const struct option opts[] = {
                {"model", required_argument, NULL, OPT_MODEL},
                {"template", required_argument, NULL, OPT_TEMPLATE},
                {"bos", required_argument, NULL, OPT_BOS},
                {"eos", required_argument, NULL, OPT_EOS},
                {"no-generation-prompt", no_argument, NULL, OPT_NO_GEN},
                {"var", required_argument, NULL, OPT_VAR},
                {"date", required_argument, NULL, OPT_DATE},
                {"detect", no_argument, NULL, OPT_DETECT},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *model = NULL, *tpl_path = NULL, *bos = NULL, *eos = NULL, *date = NULL;
        bool gen = true, detect = false;
        size_t n_vars = 0;
        const char **var_names = calloc((size_t) argc + 1, sizeof(char *));
        const char **var_vals = calloc((size_t) argc + 1, sizeof(char *));
        char **owned = calloc((size_t) argc + 1, sizeof(char *));
        char *tpl = NULL, *mbos = NULL, *meos = NULL, *input = NULL, *out = NULL;
        json_t *messages = NULL;
        struct vkinfer_err err = {{0}};
        int rc = 1, c, r;
        if (!var_names || !var_vals || !owned) {
                fprintf(stderr, "vkinfer template: out of memory\n");
                goto done;
        }
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case OPT_MODEL: model = optarg; break;
                case OPT_TEMPLATE: tpl_path = optarg; break;
                case OPT_BOS: bos = optarg; break;
                case OPT_EOS: eos = optarg; break;
                case OPT_NO_GEN: gen = false; break;
                case OPT_DATE: date = optarg; break;
                case OPT_DETECT: detect = true; break;
                case OPT_VAR: {
                        char *eq = strchr(optarg, '=');
                        if (!eq || eq == optarg) {
                                fprintf(stderr, "vkinfer template: --var wants NAME=VALUE, got '%s'\n", optarg);
                                rc = 2;
                                goto done;
                        }
                        char *name = strndup(optarg, (size_t) (eq - optarg));
                        const char *val = eq + 1;
                        json_t *probe = json_loads(val, JSON_DECODE_ANY, NULL);
                        char *json_val;
                        if (probe) {
                                json_decref(probe);
                                json_val = strdup(val);
                        } else {
                                /* Not JSON: a plain string. */
                                json_t *sv = json_string(val);
                                json_val = sv ? json_dumps(sv, JSON_ENCODE_ANY) : NULL;
                                json_decref(sv);
                        }
                        if (!name || !json_val) {
                                fprintf(stderr, "vkinfer template: --var %s: not valid UTF-8 or out of memory\n", optarg);
                                free(name);
                                free(json_val);
                                goto done;
                        }
                        var_names[n_vars] = name;
                        var_vals[n_vars] = json_val;
                        owned[n_vars] = name;
                        n_vars++;
                        break;
                }
                case 'h': usage(stdout); rc = 0; goto done;
                default: usage(stderr); rc = 2; goto done;
                }
        }
        if (optind < argc || (!model == !tpl_path)) {
                fprintf(stderr, "vkinfer template: give exactly one of --model and --template\n\n");
                usage(stderr);
                rc = 2;
                goto done;
        }
        if (model) {
                if ((r = load_model(model, &tpl, &mbos, &meos, &err)) < 0) {
                        fprintf(stderr, "vkinfer template: %s\n", err.msg);
                        goto done;
                }
        } else if ((r = read_file(tpl_path, &tpl, NULL, &err)) < 0) {
                fprintf(stderr, "vkinfer template: %s\n", err.msg);
                goto done;
        }
        if (detect) {
                printf("%s\n", chat_family_name(chat_template_detect(tpl)));
                rc = 0;
                goto done;
        }
        if ((r = read_file("-", &input, NULL, &err)) < 0) {
                fprintf(stderr, "vkinfer template: %s\n", err.msg);
                goto done;
        }
        json_error_t jerr;
        if (!(messages = json_loads(input, 0, &jerr))) {
                fprintf(stderr, "vkinfer template: standard input, line %d: %s\n", jerr.line, jerr.text);
                goto done;
        }
        struct chat_render_opts ro = {
                .bos_token = bos ? bos : mbos,
                .eos_token = eos ? eos : meos,
                .add_generation_prompt = gen,
                .var_names = var_names,
                .var_values_json = var_vals,
                .n_vars = n_vars,
                .date_override = date,
        };
        if ((r = chat_template_render_json(tpl, messages, &ro, &out, &err)) < 0) {
                fprintf(stderr, "vkinfer template: %s\n", err.msg);
                goto done;
        }
        size_t len = strlen(out);
        if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0) {
                fprintf(stderr, "vkinfer template: write error\n");
                goto done;
        }
        rc = 0;
done:
        for (size_t i = 0; owned && i < n_vars; i++) {
                free(owned[i]);
                free((char *) var_vals[i]);
        }
        free(owned);
        free(var_names);
        free(var_vals);
        free(tpl);
        free(mbos);
        free(meos);
        free(input);
        free(out);
        json_decref(messages);
        return rc;
}
