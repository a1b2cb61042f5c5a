/* vkinfer: the command-line tool. Dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

struct command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *help;
};

static const struct command commands[] = {
        {"version", cmd_version, "print the version"},
        {"inspect", cmd_inspect, "show what a GGUF file holds"},
        {"tokenize", cmd_tokenize, "print the tokens of a text (the model's tokenizer)"},
        {"detokenize", cmd_detokenize, "print the text of token ids"},
        {"devices", cmd_devices, "list Vulkan devices and their features"},
        {"run", cmd_run, "generate text from a model file"},
        {"bench", cmd_bench, "measure prefill and decode speed against the device's bandwidth"},
        {"perplexity", cmd_perplexity, "measure a model's perplexity on a text file"},
        {"chat", cmd_chat, "chat with a model served by vkinferd"},
        {"models", cmd_models, "list the models vkinferd serves"},
        {"status", cmd_status, "show vkinferd's device, models, queue and KV cache"},
        {"selftest", cmd_selftest, "check every compute kernel against its CPU reference"},
        {"template", cmd_template, "render messages with a chat template"},
};

static void usage(FILE *out) {
        fprintf(out, "Usage: vkinfer COMMAND [ARGS...]\n\nCommands:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].help);
        fprintf(out, "\nRun 'vkinfer COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0)
                return cmd_version(argc - 1, argv + 1);
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].run(argc - 1, argv + 1);
        fprintf(stderr, "vkinfer: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
}
