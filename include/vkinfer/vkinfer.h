/* vkinfer: the public engine API, used by the vkinfer tool and vkinferd.
 * Functions return 0 or a negative errno. */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *vkinfer_version(void);

#ifdef __cplusplus
}
#endif
