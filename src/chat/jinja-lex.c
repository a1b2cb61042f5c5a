/* The Jinja lexer, following jinja2/lexer.py with trim_blocks and
 * lstrip_blocks on: text is split at {{ {% {#; "-" on a tag strips all
 * whitespace on that side, "+" keeps it; lstrip_blocks removes the blanks
 * before a block or comment tag that starts its line; trim_blocks removes
 * one newline after a block or comment tag. {% raw %} is handled here. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja-impl.h"

struct lexer {
        struct arena *a;
        const char *src;
        size_t len, pos;
        unsigned line;
        bool line_starting;
        struct jtok *toks;
        size_t n, cap;
        struct vkinfer_err *err;
        unsigned depth; /* open ( [ { inside the current tag */
        char closers[256]; /* what each open bracket expects */
};

static int lex_err(struct lexer *lx, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lex_err(struct lexer *lx, int r, const char *fmt, ...) {
        char msg[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return err_set(lx->err, r, "chat template line %u: %s", lx->line, msg);
}

static struct jtok *push(struct lexer *lx, enum jtok_type type) {
        if (lx->n == lx->cap) {
                size_t cap = lx->cap ? lx->cap * 2 : 256;
                struct jtok *t = arena_alloc(lx->a, cap * sizeof(*t));
                if (!t)
                        return NULL;
                if (lx->n)
                        memcpy(t, lx->toks, lx->n * sizeof(*t));
                lx->toks = t;
                lx->cap = cap;
        }
        struct jtok *t = &lx->toks[lx->n++];
        memset(t, 0, sizeof(*t));
        t->type = type;
        t->line = lx->line;
        return t;
}

static void count_lines(struct lexer *lx, size_t from, size_t to) {
        for (size_t i = from; i < to; i++)
                if (lx->src[i] == '\n')
                        lx->line++;
}

/* Length of the whitespace code point at p, or 0. */
static size_t space_at(const char *s, size_t n) {
        uint32_t cp;
        size_t l = utf8_next(s, n, &cp);
        return py_isspace(cp) ? l : 0;
}

static size_t skip_space(const char *s, size_t pos, size_t len) {
        size_t l;
        while (pos < len && (l = space_at(s + pos, len - pos)))
                pos += l;
        return pos;
}

/* Start of the trailing whitespace of s[0..n) (Python's rstrip()). */
static size_t rstrip_pos(const char *s, size_t n) {
        size_t end = n;
        while (end > 0) {
                size_t st = end - 1;
                while (st > 0 && ((unsigned char) s[st] & 0xc0) == 0x80)
                        st--;
                if (!space_at(s + st, end - st))
                        break;
                end = st;
        }
        return end;
}

/* Emits text, stripped as the tag that follows it asks (sign is '-', '+'
 * or 0; lstrip applies to block, comment and raw tags). */
static int emit_text(struct lexer *lx, const char *s, size_t n, char sign, bool lstrip_ok) {
        size_t keep = n;
        if (sign == '-')
                keep = rstrip_pos(s, n);
        else if (sign != '+' && lstrip_ok) {
                size_t l_pos = 0;
                for (size_t i = n; i > 0; i--)
                        if (s[i - 1] == '\n') {
                                l_pos = i;
                                break;
                        }
                if ((l_pos > 0 || lx->line_starting) && l_pos < n && skip_space(s, l_pos, n) == n)
                        keep = l_pos;
        }
        if (keep) {
                struct jtok *t = push(lx, JT_DATA);
                if (!t)
                        return -ENOMEM;
                t->s = s;
                t->n = keep;
        }
        return 0;
}

/* At an end tag "-%}", "+%}", "%}" (block) or "-}}", "}}" (variable):
 * returns its length including what it swallows after it, or 0. */
static size_t match_end(struct lexer *lx, size_t pos, bool block) {
        const char *s = lx->src + pos;
        size_t left = lx->len - pos;
        char close = block ? '%' : '}';
        if (left >= 3 && s[0] == '-' && s[1] == close && s[2] == '}')
                return skip_space(lx->src, pos + 3, lx->len) - pos;
        if (block && left >= 3 && s[0] == '+' && s[1] == '%' && s[2] == '}')
                return 3;
        if (left >= 2 && s[0] == close && s[1] == '}') {
                if (block && left >= 3 && s[2] == '\n')
                        return 3;
                return 2;
        }
        return 0;
}

static bool is_name_start(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}
static bool is_digit(char ch) {
        return ch >= '0' && ch <= '9';
}

static int hexval(char ch) {
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

/* Python's unicode-escape decoding of a string literal's body. */
static int unescape(struct lexer *lx, const char *s, size_t n, struct jtok *t) {
        char *out = arena_alloc(lx->a, n + 1);
        if (!out)
                return -ENOMEM;
        size_t o = 0;
        for (size_t i = 0; i < n;) {
                if (s[i] != '\\' || i + 1 >= n) {
                        out[o++] = s[i++];
                        continue;
                }
                char e = s[i + 1];
                i += 2;
                uint32_t cp;
                int digits = 0;
                switch (e) {
                case '\\': out[o++] = '\\'; continue;
                case '\'': out[o++] = '\''; continue;
                case '"': out[o++] = '"'; continue;
                case 'a': out[o++] = '\a'; continue;
                case 'b': out[o++] = '\b'; continue;
                case 'f': out[o++] = '\f'; continue;
                case 'n': out[o++] = '\n'; continue;
                case 'r': out[o++] = '\r'; continue;
                case 't': out[o++] = '\t'; continue;
                case 'v': out[o++] = '\v'; continue;
                case '\n': continue;
                case 'x': digits = 2; break;
                case 'u': digits = 4; break;
                case 'U': digits = 8; break;
                case 'N':
                        return lex_err(lx, -EINVAL, "unsupported construct: \\N{...} escape in a string literal");
                default:
                        if (e >= '0' && e <= '7') {
                                cp = (uint32_t) (e - '0');
                                for (int k = 0; k < 2 && i < n && s[i] >= '0' && s[i] <= '7'; k++)
                                        cp = cp * 8 + (uint32_t) (s[i++] - '0');
                                o += utf8_encode(cp, out + o);
                                continue;
                        }
                        if ((unsigned char) e >= 0x80) {
                                /* Jinja backslash-escapes non-ASCII first, so
                                 * "\é" reads as a backslash and "xe9". */
                                uint32_t ch;
                                size_t l = utf8_next(s + i - 1, n - i + 1, &ch);
                                char tmp[16];
                                int tl;
                                if (ch < 0x100)
                                        tl = snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
                                else if (ch < 0x10000)
                                        tl = snprintf(tmp, sizeof(tmp), "\\u%04x", ch);
                                else
                                        tl = snprintf(tmp, sizeof(tmp), "\\U%08x", ch);
                                char *grown = arena_alloc(lx->a, o + (size_t) tl + (n - i) + 16);
                                if (!grown)
                                        return -ENOMEM;
                                memcpy(grown, out, o);
                                out = grown;
                                memcpy(out + o, tmp, (size_t) tl);
                                o += (size_t) tl;
                                i += l - 1;
                                continue;
                        }
                        out[o++] = '\\';
                        out[o++] = e;
                        continue;
                }
                cp = 0;
                for (int k = 0; k < digits; k++) {
                        int h = i < n ? hexval(s[i]) : -1;
                        if (h < 0)
                                return lex_err(lx, -EINVAL, "truncated \\%s escape in a string literal",
                                               digits == 2 ? "x" : digits == 4 ? "u" : "U");
                        cp = cp * 16 + (uint32_t) h;
                        i++;
                }
                if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return lex_err(lx, -EINVAL, "string literal escape is not a valid code point");
                o += utf8_encode(cp, out + o);
        }
        out[o] = 0;
        t->s = out;
        t->n = o;
        return 0;
}

static const char *const ops2[] = {"//", "**", "==", "!=", ">=", "<="};
static const char ops1[] = "+-/*%~[](){}><=.:|,;";

/* Lexes the inside of a {{ }} or {% %} tag up to and including its end. */
static int lex_tag(struct lexer *lx, bool block) {
        lx->depth = 0;
        for (;;) {
                size_t p = skip_space(lx->src, lx->pos, lx->len);
                count_lines(lx, lx->pos, p);
                lx->pos = p;
                if (p >= lx->len)
                        return lex_err(lx, -EINVAL, "unterminated %s tag", block ? "{% %}" : "{{ }}");
                const char *s = lx->src + p;
                size_t left = lx->len - p;
                size_t e;
                if (lx->depth == 0 && (e = match_end(lx, p, block))) {
                        struct jtok *t = push(lx, block ? JT_BLOCK_END : JT_VAR_END);
                        if (!t)
                                return -ENOMEM;
                        count_lines(lx, p, p + e);
                        lx->line_starting = lx->src[p + e - 1] == '\n';
                        lx->pos = p + e;
                        return 0;
                }
                struct jtok *t;
                if (is_digit(s[0])) {
                        size_t i = 0;
                        while (i < left && (is_digit(s[i]) || (s[i] == '_' && i + 1 < left && is_digit(s[i + 1]))))
                                i++;
                        bool is_float = false;
                        if (i + 1 < left && s[i] == '.' && is_digit(s[i + 1])) {
                                is_float = true;
                                i++;
                                while (i < left && (is_digit(s[i]) || (s[i] == '_' && i + 1 < left && is_digit(s[i + 1]))))
                                        i++;
                        }
                        if (i < left && (s[i] == 'e' || s[i] == 'E')) {
                                size_t j = i + 1;
                                if (j < left && (s[j] == '+' || s[j] == '-'))
                                        j++;
                                if (j < left && is_digit(s[j])) {
                                        is_float = true;
                                        i = j;
                                        while (i < left && (is_digit(s[i]) || s[i] == '_'))
                                                i++;
                                }
                        }
                        char buf[64];
                        size_t bn = 0;
                        for (size_t k = 0; k < i && bn < sizeof(buf) - 1; k++)
                                if (s[k] != '_')
                                        buf[bn++] = s[k];
                        buf[bn] = 0;
                        if (!(t = push(lx, is_float ? JT_FLOAT : JT_INT)))
                                return -ENOMEM;
                        if (is_float)
                                t->f = strtod(buf, NULL);
                        else {
                                errno = 0;
                                char *end;
                                long long v = strtoll(buf, &end, 10);
                                if (errno || bn >= sizeof(buf) - 1)
                                        return lex_err(lx, -ERANGE, "integer literal %s does not fit 64 bits", buf);
                                t->i = v;
                        }
                        lx->pos = p + i;
                        continue;
                }
                if (is_name_start(s[0])) {
                        size_t i = 1;
                        while (i < left && (is_name_start(s[i]) || is_digit(s[i])))
                                i++;
                        if (!(t = push(lx, JT_NAME)))
                                return -ENOMEM;
                        t->s = s;
                        t->n = i;
                        lx->pos = p + i;
                        continue;
                }
                if (s[0] == '\'' || s[0] == '"') {
                        size_t i = 1;
                        while (i < left && s[i] != s[0])
                                i += s[i] == '\\' ? 2 : 1;
                        if (i >= left)
                                return lex_err(lx, -EINVAL, "unterminated string literal");
                        if (!(t = push(lx, JT_STRING)))
                                return -ENOMEM;
                        int r = unescape(lx, s + 1, i - 1, t);
                        if (r < 0)
                                return r;
                        count_lines(lx, p, p + i);
                        lx->pos = p + i + 1;
                        continue;
                }
                size_t oplen = 0;
                for (size_t k = 0; k < ELEMENTSOF(ops2); k++)
                        if (left >= 2 && memcmp(s, ops2[k], 2) == 0)
                                oplen = 2;
                if (!oplen && strchr(ops1, s[0]))
                        oplen = 1;
                if (!oplen) {
                        char ch[8];
                        uint32_t cp;
                        size_t l = utf8_next(s, left, &cp);
                        memcpy(ch, s, l);
                        ch[l] = 0;
                        return lex_err(lx, -EINVAL, "unexpected character '%s' inside a tag", ch);
                }
                if (s[0] == '(' || s[0] == '[' || s[0] == '{') {
                        if (lx->depth == sizeof(lx->closers))
                                return lex_err(lx, -ELOOP, "brackets nested deeper than %zu levels", sizeof(lx->closers));
                        lx->closers[lx->depth++] = s[0] == '(' ? ')' : s[0] == '[' ? ']' : '}';
                } else if (oplen == 1 && (s[0] == ')' || s[0] == ']' || s[0] == '}')) {
                        if (lx->depth == 0)
                                return lex_err(lx, -EINVAL, "unexpected '%c'", s[0]);
                        if (lx->closers[lx->depth - 1] != s[0])
                                return lex_err(lx, -EINVAL, "unexpected '%c', expected '%c'", s[0], lx->closers[lx->depth - 1]);
                        lx->depth--;
                }
                if (!(t = push(lx, JT_OP)))
                        return -ENOMEM;
                t->s = s;
                t->n = oplen;
                lx->pos = p + oplen;
        }
}

/* {% raw %}: matches the opening tag at pos (after "{%" and its sign). */
static size_t match_raw_begin(struct lexer *lx, size_t pos) {
        size_t p = skip_space(lx->src, pos, lx->len);
        if (lx->len - p < 3 || memcmp(lx->src + p, "raw", 3) != 0)
                return 0;
        p = skip_space(lx->src, p + 3, lx->len);
        if (lx->len - p >= 3 && memcmp(lx->src + p, "-%}", 3) == 0)
                return skip_space(lx->src, p + 3, lx->len) - pos;
        if (lx->len - p >= 2 && memcmp(lx->src + p, "%}", 2) == 0)
                return p + 2 - pos;
        return 0;
}

static int lex_raw(struct lexer *lx) {
        for (size_t p = lx->pos; p + 1 < lx->len; p++) {
                if (lx->src[p] != '{' || lx->src[p + 1] != '%')
                        continue;
                size_t q = p + 2;
                char sign = 0;
                if (q < lx->len && (lx->src[q] == '-' || lx->src[q] == '+'))
                        sign = lx->src[q++];
                q = skip_space(lx->src, q, lx->len);
                if (lx->len - q < 6 || memcmp(lx->src + q, "endraw", 6) != 0)
                        continue;
                q = skip_space(lx->src, q + 6, lx->len);
                size_t e = match_end(lx, q, true);
                if (!e)
                        continue;
                int r = emit_text(lx, lx->src + lx->pos, p - lx->pos, sign, true);
                if (r < 0)
                        return r;
                count_lines(lx, lx->pos, q + e);
                lx->line_starting = lx->src[q + e - 1] == '\n';
                lx->pos = q + e;
                return 0;
        }
        return lex_err(lx, -EINVAL, "missing end of raw directive (%s)", "{% endraw %}");
}

int jinja_normalize(struct arena *a, const char *src, size_t len, char **ret, size_t *ret_n, struct vkinfer_err *err) {
        if (memchr(src, 0, len))
                return err_set(err, -EINVAL, "chat template: contains a NUL byte");
        /* Valid UTF-8 only: Python would not have decoded anything else. */
        for (size_t i = 0, line = 1; i < len;) {
                unsigned char c0 = (unsigned char) src[i];
                size_t l = c0 < 0x80 ? 1 : (c0 & 0xe0) == 0xc0 ? 2 : (c0 & 0xf0) == 0xe0 ? 3 : (c0 & 0xf8) == 0xf0 ? 4 : 0;
                bool ok = l && i + l <= len && !(l == 2 && c0 < 0xc2);
                for (size_t k = 1; ok && k < l; k++)
                        ok = ((unsigned char) src[i + k] & 0xc0) == 0x80;
                if (ok && l == 3) {
                        uint32_t cp;
                        utf8_next(src + i, len - i, &cp);
                        ok = cp >= 0x800 && !(cp >= 0xd800 && cp <= 0xdfff);
                } else if (ok && l == 4) {
                        uint32_t cp;
                        utf8_next(src + i, len - i, &cp);
                        ok = cp >= 0x10000 && cp <= 0x10ffff;
                }
                if (!ok)
                        return err_set(err, -EINVAL, "chat template line %zu: invalid UTF-8 at byte %zu", line, i);
                if (c0 == '\n')
                        line++;
                i += l;
        }
        /* Newlines: \r\n and \r read as \n; one trailing newline is dropped
         * (keep_trailing_newline off). */
        char *norm = arena_alloc(a, len + 1);
        if (!norm)
                return err_set(err, -ENOMEM, "chat template: out of memory");
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
                if (src[i] == '\r') {
                        norm[n++] = '\n';
                        if (i + 1 < len && src[i + 1] == '\n')
                                i++;
                } else
                        norm[n++] = src[i];
        }
        if (n && norm[n - 1] == '\n')
                n--;
        *ret = norm;
        *ret_n = n;
        return 0;
}

int jinja_lex(struct arena *a, const char *src, size_t len, struct jtok **ret, size_t *ret_n,
              struct vkinfer_err *err) {
        struct lexer lx = {.a = a, .src = src, .len = len, .line = 1, .line_starting = true, .err = err};
        int r;
        while (lx.pos < len) {
                const char *s = src + lx.pos;
                size_t left = len - lx.pos, at = left;
                for (size_t i = 0; i + 1 < left; i++)
                        if (s[i] == '{' && (s[i + 1] == '{' || s[i + 1] == '%' || s[i + 1] == '#')) {
                                at = i;
                                break;
                        }
                if (at == left) {
                        if ((r = emit_text(&lx, s, left, '+', false)) < 0)
                                goto fail;
                        count_lines(&lx, lx.pos, len);
                        break;
                }
                char kind = s[at + 1];
                size_t after = lx.pos + at + 2;
                char sign = 0;
                if (after < len && (src[after] == '-' || src[after] == '+'))
                        sign = src[after++];
                size_t raw = kind == '%' ? match_raw_begin(&lx, after) : 0;
                if ((r = emit_text(&lx, s, at, sign, kind != '{')) < 0)
                        goto fail;
                count_lines(&lx, lx.pos, lx.pos + at);
                lx.pos = after;
                lx.line_starting = false;
                if (raw) {
                        count_lines(&lx, after, after + raw);
                        lx.line_starting = src[after + raw - 1] == '\n';
                        lx.pos = after + raw;
                        if ((r = lex_raw(&lx)) < 0)
                                goto fail;
                } else if (kind == '#') {
                        size_t p = lx.pos, e = 0;
                        for (; p + 1 < len; p++) {
                                if (src[p] == '-' && p + 2 < len && src[p + 1] == '#' && src[p + 2] == '}') {
                                        e = skip_space(src, p + 3, len) - p;
                                        break;
                                }
                                if (src[p] == '+' && p + 2 < len && src[p + 1] == '#' && src[p + 2] == '}') {
                                        e = 3;
                                        break;
                                }
                                if (src[p] == '#' && src[p + 1] == '}') {
                                        e = p + 2 < len && src[p + 2] == '\n' ? 3 : 2;
                                        break;
                                }
                        }
                        if (!e) {
                                r = lex_err(&lx, -EINVAL, "missing end of comment tag (%s)", "#}");
                                goto fail;
                        }
                        count_lines(&lx, lx.pos, p + e);
                        lx.line_starting = src[p + e - 1] == '\n';
                        lx.pos = p + e;
                } else {
                        struct jtok *t = push(&lx, kind == '%' ? JT_BLOCK_BEGIN : JT_VAR_BEGIN);
                        if (!t) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        if ((r = lex_tag(&lx, kind == '%')) < 0)
                                goto fail;
                }
        }
        struct jtok *t = push(&lx, JT_EOF);
        if (!t) {
                r = -ENOMEM;
                goto fail;
        }
        *ret = lx.toks;
        *ret_n = lx.n;
        return 0;
fail:
        if (r == -ENOMEM)
                err_set(err, r, "chat template: out of memory while lexing");
        return r;
}
