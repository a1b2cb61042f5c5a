#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int err_set(struct vkinfer_err *err, int r, const char *fmt, ...) {
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                va_end(ap);
        }
        return r;
}

int read_file(const char *path, char **ret_data, size_t *ret_size, struct vkinfer_err *err) {
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
        if (!f)
                return err_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
        size_t cap = 1 << 16, n = 0;
        char *buf = malloc(cap + 1);
        if (!buf) {
                if (f != stdin)
                        fclose(f);
                return err_set(err, -ENOMEM, "out of memory reading '%s'", path);
        }
        for (;;) {
                size_t got = fread(buf + n, 1, cap - n, f);
                n += got;
                if (n < cap)
                        break;
                char *nb = realloc(buf, cap * 2 + 1);
                if (!nb) {
                        free(buf);
                        if (f != stdin)
                                fclose(f);
                        return err_set(err, -ENOMEM, "out of memory reading '%s'", path);
                }
                buf = nb;
                cap *= 2;
        }
        int failed = ferror(f);
        if (f != stdin)
                fclose(f);
        if (failed) {
                free(buf);
                return err_set(err, -EIO, "read error on '%s'", path);
        }
        buf[n] = 0;
        *ret_data = buf;
        if (ret_size)
                *ret_size = n;
        return 0;
}
