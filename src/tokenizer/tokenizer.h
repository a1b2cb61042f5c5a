/* Tokenizers that match the model's own (Hugging Face) tokenizer exactly:
 * byte-level BPE (GGUF tokenizer.ggml.model = "gpt2") with the pre-tokenizer
 * named by tokenizer.ggml.pre, and SentencePiece-style BPE over scores
 * ("llama"). Built from a GGUF file's tokenizer.* keys; everything needed is
 * copied, so the tokenizer outlives the gguf_file it came from.
 *
 * Matching the reference means: added tokens are split out of the text
 * first (leftmost-longest); Qwen's NFC normalizer is applied to the rest; the
 * pre-tokenizer regexes are Hugging Face's own (PCRE2, UTF + UCP, JIT); merges
 * go lowest rank first, leftmost among equals. Decoding does no clean-up of
 * spaces around punctuation, so decode(encode(s)) == s.
 *
 * A tokenizer is immutable once built: tokenizer_encode and the decoders may
 * be used from any number of threads at once (all scratch is per call). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf/gguf.h"
#include "util/util.h"

struct tokenizer;

enum tokenizer_kind {
        TOKENIZER_BPE, /* byte-level BPE, "gpt2" */
        TOKENIZER_SPM, /* SentencePiece-style, "llama" */
};

/* Token types as GGUF tokenizer.ggml.token_type numbers them. */
enum tokenizer_token_type {
        TOKEN_TYPE_UNDEFINED = 0,
        TOKEN_TYPE_NORMAL = 1,
        TOKEN_TYPE_UNKNOWN = 2,
        TOKEN_TYPE_CONTROL = 3,
        TOKEN_TYPE_USER_DEFINED = 4,
        TOKEN_TYPE_UNUSED = 5,
        TOKEN_TYPE_BYTE = 6,
};

/* Builds a tokenizer from f's tokenizer.* metadata. Fails (-EINVAL, -ENOENT,
 * -EOPNOTSUPP, -ENOMEM) with err naming the key that is missing or wrong, or
 * the tokenizer model / pre-tokenizer that is not supported. A missing or
 * "default" tokenizer.ggml.pre gets llama.cpp's default BPE regexes; any other
 * unknown name is refused (-EOPNOTSUPP), never guessed. */
int tokenizer_new_from_gguf(const struct gguf_file *f, struct tokenizer **ret, struct vkinfer_err *err);
/* Accepts NULL; returns NULL. */
struct tokenizer *tokenizer_free(struct tokenizer *t);

/* Tokenizes text[0..len) (not necessarily NUL-terminated, any bytes: invalid
 * UTF-8 is kept losslessly as byte tokens, so decode(encode(s)) == s; only
 * where a vocabulary has no token for such a byte (DeepSeek LLM/Coder lack
 * 0xC0, 0xC1, 0xF5..0xFF) it fails with -EILSEQ naming the byte).
 * add_bos: prepend BOS when the model asks for it (tokenizer_add_bos()), and
 * append EOS when it asks for that. parse_special: control tokens written in
 * the text (e.g. "<|im_end|>") become single tokens; user-defined added tokens
 * (e.g. "<think>" in Qwen) are always matched, as Hugging Face does.
 * *ret_ids is malloc'd (never NULL on success, even for no tokens).
 * Thread-safe. */
int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, bool add_bos,
                     bool parse_special, int32_t **ret_ids, size_t *ret_n, struct vkinfer_err *err);

/* ---- Vocabulary facts (cannot fail) ---- */
enum tokenizer_kind tokenizer_kind(const struct tokenizer *t);
const char *tokenizer_pre_name(const struct tokenizer *t); /* "deepseek-v3", "default", "llama-spm" */
int32_t tokenizer_n_vocab(const struct tokenizer *t);
/* Special ids, or -1 when the model has none. */
int32_t tokenizer_bos(const struct tokenizer *t);
int32_t tokenizer_eos(const struct tokenizer *t);
int32_t tokenizer_eot(const struct tokenizer *t);
int32_t tokenizer_pad(const struct tokenizer *t);
int32_t tokenizer_unk(const struct tokenizer *t);
bool tokenizer_add_bos(const struct tokenizer *t);
bool tokenizer_add_eos(const struct tokenizer *t);
/* End of generation: EOS, EOT, and control tokens that end a turn
 * (<|im_end|>, <|eot_id|>, <|eom_id|>, <|end_of_text|>, <|endoftext|>,
 * DeepSeek's <｜end▁of▁sentence｜>, ...). False for out-of-range ids. */
bool tokenizer_is_eog(const struct tokenizer *t, int32_t id);
/* CONTROL or UNKNOWN: not text; decoders drop them unless asked to render. */
bool tokenizer_is_special(const struct tokenizer *t, int32_t id);
/* TOKEN_TYPE_*; TOKEN_TYPE_UNDEFINED for out-of-range ids. */
enum tokenizer_token_type tokenizer_token_type(const struct tokenizer *t, int32_t id);
/* The vocabulary string as stored (byte-level form "Ġthe" for BPE, "▁the"
 * for SPM), NUL-terminated; NULL for out-of-range ids. */
const char *tokenizer_token_text(const struct tokenizer *t, int32_t id, size_t *ret_len);
/* The bytes the token stands for ("Ġthe" -> " the", "<0x0A>" -> "\n"; a
 * control token's own text). Not NUL-terminated, may be a partial UTF-8
 * character. NULL for out-of-range ids. */
const char *tokenizer_token_piece(const struct tokenizer *t, int32_t id, size_t *ret_len);
/* Looks up a token by its exact vocabulary string; -1 when absent. */
int32_t tokenizer_find_token(const struct tokenizer *t, const char *text, size_t len);

/* ---- Decoding ---- */
enum tokenizer_decode_flags {
        /* Render CONTROL/UNKNOWN tokens as their text (default: dropped). */
        TOKENIZER_DECODE_SPECIAL = 1 << 0,
        /* SentencePiece: drop the space the encoder put in front of the first
         * token (as llama.cpp's detokenize and HF decode do). No-op for BPE. */
        TOKENIZER_DECODE_STRIP_LEADING_SPACE = 1 << 1,
        /* Replace bytes that are not valid UTF-8 with U+FFFD, so the output is
         * always valid UTF-8 (for JSON). Default: bytes pass through as is. */
        TOKENIZER_DECODE_REPLACE_INVALID = 1 << 2,
};

/* A streaming decoder: push one id at a time, get back the bytes that are
 * complete. The bytes of a multi-byte UTF-8 character split across tokens are
 * held back until the character is complete (or proves invalid); flush at the
 * end returns whatever is still held. Not shared between threads. */
struct tokenizer_decoder;

int tokenizer_decoder_new(const struct tokenizer *t, unsigned flags, struct tokenizer_decoder **ret);
/* Accepts NULL; returns NULL. */
struct tokenizer_decoder *tokenizer_decoder_free(struct tokenizer_decoder *d);
/* Decodes id. *ret_text (length *ret_len, possibly 0, NUL-terminated) stays
 * valid until the next call on d. -EINVAL for an out-of-range id (d unchanged). */
int tokenizer_decoder_push(struct tokenizer_decoder *d, int32_t id, const char **ret_text, size_t *ret_len,
                           struct vkinfer_err *err);
/* Returns the held-back bytes and resets d for a new stream. */
int tokenizer_decoder_flush(struct tokenizer_decoder *d, const char **ret_text, size_t *ret_len);

/* Decodes a whole sequence into a malloc'd NUL-terminated string. */
int tokenizer_decode_all(const struct tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                         char **ret_text, size_t *ret_len, struct vkinfer_err *err);
