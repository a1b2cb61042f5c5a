/* vkinferd's configuration: built-in defaults, then the INI file
 * (/etc/vkinfer/vkinferd.conf or --config), then command-line flags. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CONFIG_MAX_MODELS 16
#define CONFIG_MAX_IDS 32
#define CONFIG_MAX_CONNECTIONS 65536

struct config_model {
        char *name;
        char *path;
        uint32_t context; /* 0 = the model's own */
};

struct config {
        /* [server] */
        char *socket_path;       /* NULL = default for the instance */
        uint32_t socket_mode;    /* 0660 */
        char *socket_group;      /* NULL = the daemon's group */
        uid_t allow_users[CONFIG_MAX_IDS];
        size_t n_allow_users;
        gid_t allow_groups[CONFIG_MAX_IDS];
        size_t n_allow_groups;
        char *tcp_listen;        /* "127.0.0.1:8080"; NULL = off */
        uint64_t max_body_bytes;
        uint32_t request_timeout_sec; /* idle connection timeout */
        uint32_t request_deadline_sec; /* to receive a whole request */
        uint32_t max_connections;     /* open at once; lowered below the fd limit */
        bool user_instance;
        bool dbus;               /* offer org.vkinfer.Inference1 */
        char *models_dir;        /* every *.gguf in it is served too; NULL = none */
        /* [scheduler] */
        uint32_t queue_size;
        uint32_t max_sequences;
        uint32_t max_batch_tokens;
        uint32_t drain_timeout_sec;
        /* [device] */
        char *device;
        char *cache_dir;
        char *kv_cache_type; /* auto (NULL), f16, f32 */
        /* [model NAME] sections, in file order; the first is the default */
        struct config_model models[CONFIG_MAX_MODELS];
        size_t n_models;
};

void config_init(struct config *c);
void config_free(struct config *c);
/* Reads an INI file into c. -ENOENT when missing (callers decide whether that
 * is fine); other errors name the line. */
int config_load_file(struct config *c, const char *path, char *err, size_t err_size);
/* Parses one `key = value` of a section, as the file would. */
int config_set(struct config *c, const char *section, const char *key, const char *value, char *err, size_t err_size);
int config_add_model(struct config *c, const char *name, const char *path, char *err, size_t err_size);
/* Fills the socket path default for the instance; validates. */
int config_finish(struct config *c, char *err, size_t err_size);
/* Where a configuration comes from: the file, then command-line flags
 * (section/key/value triples) and --model files, which replace the file's
 * models. Kept by the Manager so that a reload rebuilds the same way. */
struct config_source {
        const char *path;    /* NULL: the default file (optional) */
        bool user_instance;
        struct config_flag {
                const char *section, *key, *value;
        } flags[64];
        size_t n_flags;
        const char *models[CONFIG_MAX_MODELS];
        size_t n_models;
        const char *context; /* --context for the --model files */
};

/* Builds c from src (c must be fresh from config_init). With no model at
 * all, the bundled demo model is served. */
int config_build(struct config *c, const struct config_source *src, char *err, size_t err_size);

/* The text of `vkinferd --help`'s configuration section. */
extern const char config_help[];
