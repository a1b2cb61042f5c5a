/* The vkinfer subcommands: one file each, `int cmd_NAME(int argc, char **argv)`
 * returning a process exit code. argv[0] is the subcommand's name. */
#pragma once

int cmd_version(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_selftest(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_bench(int argc, char **argv);
