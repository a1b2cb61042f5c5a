/* The SPIR-V of every shader, embedded at build time (shaders/meson.build,
 * shaders/embed.py). Names are the variant names, e.g. "matvec_q4_0". */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct vk_shader_blob {
        const char *name;
        const uint32_t *code;
        size_t size; /* bytes */
};

/* NULL when no shader has that name. */
const struct vk_shader_blob *vk_shader_find(const char *name);
/* Every embedded shader; *ret_n gets the count. */
const struct vk_shader_blob *vk_shader_list(size_t *ret_n);
