/* The generation parameters both front ends take, the HTTP API's JSON and
 * the D-Bus options a{sv}, each with one range: a value is accepted or
 * refused alike over either. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkinfer/engine.h"

/* The i-th numeric parameter's OpenAI name, NULL past the last; in the
 * order they apply (max_completion_tokens after max_tokens). */
const char *params_key(size_t i);

/* Whether key takes whole numbers only (max_tokens, top_k...). */
bool params_is_integer(const char *key);

/* Sets parameter key of p from x: 1 when set; 0 when key is none of them;
 * -EINVAL, with the reason in err, when x is out of range or not whole. */
int params_set(struct vkinfer_gen_params *p, const char *key, double x, char *err, size_t size);

/* The largest seed: what a JSON integer holds (jansson's int64), so that
 * both front ends take the same seeds. */
#define PARAMS_SEED_MAX ((uint64_t) INT64_MAX)

/* seed: 0 to PARAMS_SEED_MAX, or -1 for a random one (llama.cpp's
 * convention); anything else is refused with the reason in err. */
int params_set_seed(struct vkinfer_sampling *s, int64_t v, char *err, size_t size);
/* The same from a double (D-Bus 'd', or a 't' past INT64_MAX), range-checked
 * before it is converted. */
int params_set_seed_double(struct vkinfer_sampling *s, double d, char *err, size_t size);

#define PARAMS_MAX_STOP 16
/* A stop string (len bytes): -EINVAL, with the reason, when it is empty. */
int params_check_stop(size_t len, char *err, size_t size);
/* "at most PARAMS_MAX_STOP stop sequences" for n of them, or 0. */
int params_check_stop_count(size_t n, char *err, size_t size);

/* The prompt's text (every message's content and reasoning, or the
 * completion prompt) against max bytes, the same limit over both front
 * ends (max-body): -E2BIG, with the reason, when it is over. */
int params_check_prompt_size(const struct vkinfer_gen_params *p, uint64_t max, char *err, size_t size);

/* A message's role as the chat templates take it (developer, OpenAI's newer
 * name for system, is system); NULL, with the reason, when unsupported. */
const char *params_role(const char *role, char *err, size_t size);
