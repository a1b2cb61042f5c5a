/* vkinfer tokenize / detokenize: the model's tokenizer on the command line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

static int load(const char *path, struct gguf_file **ret_f, struct tokenizer **ret_t) {
        struct vkinfer_err err = {{0}};
        struct gguf_file *f = NULL;
        int r = gguf_open(path, &f, &err);
        if (r >= 0)
                r = tokenizer_new_from_gguf(f, ret_t, &err);
        if (r < 0) {
                fprintf(stderr, "vkinfer: %s: %s\n", path, err.msg[0] ? err.msg : strerror(-r));
                gguf_close(f);
                return r;
        }
        *ret_f = f;
        return 0;
}

/* Writes a piece readably: UTF-8 text as is, control characters, backslash
 * and bytes that are not (complete) UTF-8 as C escapes. */
static void print_piece(const char *p, size_t n) {
        for (size_t i = 0; i < n;) {
                unsigned char c = (unsigned char) p[i];
                if (c == '\n' || c == '\t' || c == '\r' || c == '\\') {
                        printf("\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : '\\');
                        i++;
                        continue;
                }
                if (c >= 0x20 && c < 0x7f) {
                        putchar(c);
                        i++;
                        continue;
                }
                size_t l = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
                bool ok = l > 0 && i + l <= n;
                for (size_t j = 1; ok && j < l; j++)
                        ok = ((unsigned char) p[i + j] & 0xc0) == 0x80;
                if (ok && l > 2) { /* no overlongs, surrogates, or code points past U+10FFFF */
                        unsigned char d = (unsigned char) p[i + 1];
                        ok = !(c == 0xe0 && d < 0xa0) && !(c == 0xed && d > 0x9f) && !(c == 0xf0 && d < 0x90) &&
                             !(c == 0xf4 && d > 0x8f);
                }
                if (ok) {
                        fwrite(p + i, 1, l, stdout);
                        i += l;
                } else {
                        printf("\\x%02x", c);
                        i++;
                }
        }
}

static void tokenize_usage(FILE *out) {
        fprintf(out,
                "Usage: vkinfer tokenize --model FILE [--ids-only] [--no-bos] [--no-special] TEXT|-\n"
                "\n"
                "Tokenizes TEXT (or standard input with '-') with the model's tokenizer and\n"
                "prints one 'id<TAB>piece' line per token (the piece escaped readably), or\n"
                "with --ids-only the ids on one line, space-separated.\n"
                "\n"
                "  -m, --model FILE  a GGUF file (a vocabulary-only file is enough)\n"
                "  -i, --ids-only    print only the ids\n"
                "      --no-bos      do not add BOS/EOS; by default they are added when the\n"
                "                    model asks for it (tokenizer.ggml.add_bos_token), as\n"
                "                    llama.cpp's llama-tokenize does\n"
                "      --no-special  treat control tokens written in TEXT (e.g. <|im_end|>)\n"
                "                    as plain text; by default they become single tokens\n");
}

int cmd_tokenize(int argc, char **argv) {
        static const struct option opts[] = {
                {"model", required_argument, NULL, 'm'},
                {"ids-only", no_argument, NULL, 'i'},
                {"no-bos", no_argument, NULL, 'B'},
                {"no-special", no_argument, NULL, 'S'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *model = NULL;
        bool ids_only = false, bos = true, special = true;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "m:ih", opts, NULL)) != -1) {
                switch (c) {
                case 'm': model = optarg; break;
                case 'i': ids_only = true; break;
                case 'B': bos = false; break;
                case 'S': special = false; break;
                case 'h': tokenize_usage(stdout); return 0;
                default: tokenize_usage(stderr); return 2;
                }
        }
        if (!model || optind != argc - 1) {
                fprintf(stderr, "vkinfer tokenize: %s\n\n",
                        !model ? "--model is required" : "give exactly one TEXT (or -)");
                tokenize_usage(stderr);
                return 2;
        }

        struct vkinfer_err err = {{0}};
        _cleanup_free_ char *stdin_text = NULL;
        const char *text = argv[optind];
        size_t len = strlen(text);
        if (strcmp(text, "-") == 0) {
                if (read_file("-", &stdin_text, &len, &err) < 0) {
                        fprintf(stderr, "vkinfer tokenize: %s\n", err.msg);
                        return 1;
                }
                text = stdin_text;
        }

        struct gguf_file *f = NULL;
        struct tokenizer *t = NULL;
        if (load(model, &f, &t) < 0)
                return 1;
        int32_t *ids = NULL;
        size_t n = 0;
        int r = tokenizer_encode(t, text, len, bos, special, &ids, &n, &err);
        if (r < 0) {
                fprintf(stderr, "vkinfer tokenize: %s\n", err.msg);
        } else if (ids_only) {
                for (size_t i = 0; i < n; i++)
                        printf(i ? " %d" : "%d", ids[i]);
                putchar('\n');
        } else {
                for (size_t i = 0; i < n; i++) {
                        size_t pn;
                        const char *p = tokenizer_token_piece(t, ids[i], &pn);
                        printf("%d\t", ids[i]);
                        print_piece(p, pn);
                        putchar('\n');
                }
        }
        free(ids);
        tokenizer_free(t);
        gguf_close(f);
        if (fflush(stdout) != 0) {
                fprintf(stderr, "vkinfer tokenize: writing the output: %s\n", strerror(errno));
                return 1;
        }
        return r < 0 ? 1 : 0;
}

static void detokenize_usage(FILE *out) {
        fprintf(out,
                "Usage: vkinfer detokenize --model FILE [--no-special] ID...|-\n"
                "\n"
                "Prints the text of the token ids (or of the whitespace-separated ids read\n"
                "from standard input with '-'), byte for byte, with no newline of its own.\n"
                "\n"
                "  -m, --model FILE  a GGUF file (a vocabulary-only file is enough)\n"
                "      --no-special  leave out control tokens (BOS, <|im_end|>...); by default\n"
                "                    they are printed as their text\n");
}

static int parse_id(const char *s, const char **end, int32_t *ret) {
        char *e;
        errno = 0;
        long v = strtol(s, &e, 10);
        if (e == s || errno || v < 0 || v > INT32_MAX)
                return -EINVAL;
        *end = e;
        *ret = (int32_t) v;
        return 0;
}

int cmd_detokenize(int argc, char **argv) {
        static const struct option opts[] = {
                {"model", required_argument, NULL, 'm'},
                {"no-special", no_argument, NULL, 'S'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *model = NULL;
        bool special = true;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
                switch (c) {
                case 'm': model = optarg; break;
                case 'S': special = false; break;
                case 'h': detokenize_usage(stdout); return 0;
                default: detokenize_usage(stderr); return 2;
                }
        }
        if (!model) {
                fprintf(stderr, "vkinfer detokenize: --model is required\n\n");
                detokenize_usage(stderr);
                return 2;
        }

        struct vkinfer_err err = {{0}};
        _cleanup_free_ int32_t *ids = NULL;
        size_t n = 0, cap = 0;
        _cleanup_free_ char *in = NULL;
        bool from_stdin = optind == argc - 1 && strcmp(argv[optind], "-") == 0;
        if (from_stdin && read_file("-", &in, NULL, &err) < 0) {
                fprintf(stderr, "vkinfer detokenize: %s\n", err.msg);
                return 1;
        }
        for (int a = optind; a < argc; a++) {
                const char *p = from_stdin ? in : argv[a];
                for (;;) {
                        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')
                                p++;
                        if (!*p)
                                break;
                        int32_t id;
                        if (parse_id(p, &p, &id) < 0) {
                                fprintf(stderr, "vkinfer detokenize: '%.20s' is not a token id\n", p);
                                return 2;
                        }
                        if (n == cap) {
                                cap = cap ? cap * 2 : 64;
                                int32_t *ni = realloc(ids, cap * sizeof(*ids));
                                if (!ni) {
                                        fprintf(stderr, "vkinfer detokenize: out of memory\n");
                                        return 1;
                                }
                                ids = ni;
                        }
                        ids[n++] = id;
                }
                if (from_stdin)
                        break;
        }

        struct gguf_file *f = NULL;
        struct tokenizer *t = NULL;
        if (load(model, &f, &t) < 0)
                return 1;
        char *text = NULL;
        size_t len = 0;
        unsigned flags = TOKENIZER_DECODE_STRIP_LEADING_SPACE | (special ? TOKENIZER_DECODE_SPECIAL : 0);
        int r = tokenizer_decode_all(t, ids, n, flags, &text, &len, &err);
        if (r < 0)
                fprintf(stderr, "vkinfer detokenize: %s\n", err.msg);
        else
                fwrite(text, 1, len, stdout);
        free(text);
        tokenizer_free(t);
        gguf_close(f);
        if (fflush(stdout) != 0) {
                fprintf(stderr, "vkinfer detokenize: writing the output: %s\n", strerror(errno));
                return 1;
        }
        return r < 0 ? 1 : 0;
}
