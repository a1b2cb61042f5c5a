/* Turns a sequence's decoded text into what the client sees:
 *   - stop strings end the answer and never appear in it, even when they span
 *     tokens (text that could still become a stop string is held back);
 *   - DeepSeek-R1-style reasoning between <think> and </think> is split off
 *     into `reasoning`, apart from `content`. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct text_out {
        char *p;
        size_t len, cap;
};

int text_out_append(struct text_out *o, const char *s, size_t n);
void text_out_reset(struct text_out *o);

struct text_filter {
        /* stop strings (borrowed) */
        const char *const *stop;
        size_t n_stop;
        bool stopped;
        struct text_out held; /* text that might still start a stop string */
        /* reasoning */
        bool parse_think; /* the model emits <think>...</think> */
        bool in_think;
        struct text_out tag; /* a partial <think> or </think> seen so far */
};

/* in_think: the prompt already opened <think> (the R1 templates do). */
void text_filter_init(struct text_filter *f, const char *const *stop, size_t n_stop, bool parse_think, bool in_think);
void text_filter_finish(struct text_filter *f);
/* Feeds newly decoded text; appends what is now safe to emit. Returns true
 * when a stop string was found (nothing after it is emitted). */
bool text_filter_feed(struct text_filter *f, const char *text, size_t len, struct text_out *content,
                      struct text_out *reasoning);
/* End of generation: releases held-back text. */
void text_filter_flush(struct text_filter *f, struct text_out *content, struct text_out *reasoning);
