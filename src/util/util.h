/* Small helpers shared by every layer: error strings, overflow-checked
 * arithmetic, cleanup attributes. Functions return negative errno. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* A caller-owned buffer for a human-readable error message. Functions that
 * fail fill it (when non-NULL) and return a negative errno. */
struct vkinfer_err {
        char msg[512];
};

/* Formats into err (if non-NULL) and returns r, so callers can write
 * `return err_set(err, -EINVAL, "bad %s", x);`. */
int err_set(struct vkinfer_err *err, int r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* a + b and a * b for sizes; false on overflow. */
static inline bool add_overflows(uint64_t a, uint64_t b, uint64_t *ret) {
        return __builtin_add_overflow(a, b, ret);
}
static inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t *ret) {
        return __builtin_mul_overflow(a, b, ret);
}

static inline uint64_t align_up(uint64_t x, uint64_t a) {
        return (x + a - 1) / a * a;
}

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Reads a whole file into a NUL-terminated malloc'd buffer. */
int read_file(const char *path, char **ret_data, size_t *ret_size, struct vkinfer_err *err);
