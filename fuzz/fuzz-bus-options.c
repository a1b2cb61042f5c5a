/* libFuzzer target: the options a{sv} of the D-Bus Chat and Complete calls
 * (parse_options in daemon/bus.c), over messages built from the input: a
 * list of entries, each a key (one of the known ones or any string) and a
 * value of any D-Bus type. sd-bus builds and reads messages only on a bus
 * that has a transport, so the bus here sits on a socket pair that never
 * carries anything. Refusals are fine; nothing may crash, leak or overflow.
 * daemon/bus.c is included so its static parser needs no export. */
#include "../daemon/bus.c"

#include <sys/socket.h>
#include <unistd.h>

static const char *const keys[] = {
        "model", "seed", "stop", "ignore_eos", "cancel_on_disconnect", "enable_thinking", "max_tokens",
        "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "presence_penalty",
        "frequency_penalty", "repeat_penalty",
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

struct input {
        const uint8_t *p;
        size_t n;
};

static uint8_t byte(struct input *in) {
        if (!in->n)
                return 0;
        in->n--;
        return *in->p++;
}

static uint64_t u64(struct input *in) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = v << 8 | byte(in);
        return v;
}

/* An ASCII string of up to 31 bytes: sd-bus refuses invalid UTF-8 in an
 * append, as it does in a message it receives. */
static const char *str(struct input *in, char *buf) {
        size_t n = byte(in) % 32;
        size_t i = 0;
        for (; i < n && in->n; i++)
                buf[i] = (char) ((byte(in) & 0x7f) | 1); /* ASCII, no NUL */
        buf[i] = 0;
        return buf;
}

/* One value of the type the input picks, as a variant. */
static int append_value(sd_bus_message *m, struct input *in) {
        char s1[32], s2[32];
        uint64_t v;
        switch (byte(in) % 16) {
        case 0: v = u64(in); double d; memcpy(&d, &v, sizeof(d)); return sd_bus_message_append(m, "v", "d", d);
        case 1: return sd_bus_message_append(m, "v", "i", (int32_t) u64(in));
        case 2: return sd_bus_message_append(m, "v", "u", (uint32_t) u64(in));
        case 3: return sd_bus_message_append(m, "v", "x", (int64_t) u64(in));
        case 4: return sd_bus_message_append(m, "v", "t", u64(in));
        case 5: return sd_bus_message_append(m, "v", "n", (int) (int16_t) u64(in));
        case 6: return sd_bus_message_append(m, "v", "q", (unsigned) (uint16_t) u64(in));
        case 7: return sd_bus_message_append(m, "v", "y", (unsigned) byte(in));
        case 8: return sd_bus_message_append(m, "v", "b", byte(in) & 1);
        case 9: return sd_bus_message_append(m, "v", "s", str(in, s1));
        case 10: {
                size_t n = byte(in) % 20; /* past PARAMS_MAX_STOP too */
                int r = sd_bus_message_open_container(m, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'a', "s");
                for (size_t i = 0; r >= 0 && i < n; i++)
                        r = sd_bus_message_append(m, "s", str(in, s1));
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                return r >= 0 ? sd_bus_message_close_container(m) : r;
        }
        case 11: return sd_bus_message_append(m, "v", "g", "a{sv}");
        case 12: return sd_bus_message_append(m, "v", "o", "/org/vkinfer");
        case 13: return sd_bus_message_append(m, "v", "v", "s", str(in, s1));
        case 14: return sd_bus_message_append(m, "v", "ai", 2, (int32_t) byte(in), (int32_t) byte(in));
        default: return sd_bus_message_append(m, "v", "(ss)", str(in, s1), str(in, s2));
        }
}

static sd_bus *bus;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!bus) {
                int fds[2];
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 || sd_bus_new(&bus) < 0 ||
                    sd_bus_set_fd(bus, fds[0], fds[0]) < 0 || sd_bus_start(bus) < 0)
                        abort();
        }
        struct input in = {data, size};
        sd_bus_message *m = NULL;
        if (sd_bus_message_new_method_call(bus, &m, BUS_NAME, BUS_PATH, BUS_IFACE, "Complete") < 0 ||
            sd_bus_message_append(m, "s", "prompt") < 0 || sd_bus_message_open_container(m, 'a', "{sv}") < 0)
                abort();
        size_t entries = 0;
        while (in.n && entries < 40) { /* past BUS_MAX_OPTIONS */
                char raw[32];
                uint8_t k = byte(&in);
                const char *key = k < 0xf0 ? keys[k % N_KEYS] : str(&in, raw);
                if (sd_bus_message_open_container(m, 'e', "sv") < 0 || sd_bus_message_append(m, "s", key) < 0 ||
                    append_value(m, &in) < 0 || sd_bus_message_close_container(m) < 0)
                        break; /* a value sd-bus refuses ends the dict where it is */
                entries++;
        }
        const char *prompt;
        if (sd_bus_message_close_container(m) >= 0 && sd_bus_message_seal(m, 1, 0) >= 0 &&
            sd_bus_message_rewind(m, true) >= 0 && sd_bus_message_read(m, "s", &prompt) >= 0) {
                struct bus_request br = {0};
                struct vkinfer_gen_params p = {.max_tokens = -1, .top_logprobs = -1};
                sd_bus_error error = SD_BUS_ERROR_NULL;
                int r = parse_options(m, &br, &p, &error);
                if (r < 0 && sd_bus_error_is_set(&error) && !error.message)
                        abort(); /* a refusal names its reason */
                sd_bus_error_free(&error);
                for (size_t i = 0; i < br.n_strings; i++)
                        free(br.strings[i]);
                free(br.strings);
                free(br.model);
        }
        sd_bus_message_unref(m);
        return 0;
}
