/* A hash index of names (keys or tensors) for O(1) lookup and duplicate
 * detection: real models have ~2000 tensors, and a hostile file can claim
 * hundreds of thousands of keys, so pairwise comparison is not an option.
 * Open addressing with linear probing, FNV-1a, at most half full. */
#include "gguf/gguf-internal.h"

#include <string.h>

struct slot {
        const char *name; /* NULL: empty; points to a name the file owns */
        uint64_t hash;
        uint64_t idx;
};

struct gguf_index {
        struct slot *slots;
        uint64_t mask; /* capacity - 1, capacity a power of two */
};

static uint64_t hash_name(const char *s) {
        uint64_t h = 0xcbf29ce484222325ull;
        for (; *s; s++) {
                h ^= (uint8_t) *s;
                h *= 0x100000001b3ull;
        }
        return h;
}

struct gguf_index *gguf_index_new(uint64_t n) {
        uint64_t cap = 16;
        while (cap < n * 2) {
                if (cap > (UINT64_MAX / 2) / sizeof(struct slot))
                        return NULL;
                cap *= 2;
        }
        struct gguf_index *ix = calloc(1, sizeof(*ix));
        if (!ix)
                return NULL;
        ix->slots = calloc(cap, sizeof(*ix->slots));
        if (!ix->slots) {
                free(ix);
                return NULL;
        }
        ix->mask = cap - 1;
        return ix;
}

struct gguf_index *gguf_index_free(struct gguf_index *ix) {
        if (ix) {
                free(ix->slots);
                free(ix);
        }
        return NULL;
}

uint64_t gguf_index_insert(struct gguf_index *ix, const char *name, uint64_t idx) {
        uint64_t h = hash_name(name);
        for (uint64_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
                struct slot *s = &ix->slots[i];
                if (!s->name) {
                        *s = (struct slot){name, h, idx};
                        return UINT64_MAX;
                }
                if (s->hash == h && strcmp(s->name, name) == 0)
                        return s->idx;
        }
}

uint64_t gguf_index_find(const struct gguf_index *ix, const char *name) {
        if (!ix)
                return UINT64_MAX;
        uint64_t h = hash_name(name);
        for (uint64_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
                const struct slot *s = &ix->slots[i];
                if (!s->name)
                        return UINT64_MAX;
                if (s->hash == h && strcmp(s->name, name) == 0)
                        return s->idx;
        }
}
