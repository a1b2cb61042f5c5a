/* Logging to stderr, which systemd sends to the journal; the <N> prefix is
 * the syslog priority when stderr is the journal stream. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

void log_print(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_print(3, __VA_ARGS__)
#define log_warning(...) log_print(4, __VA_ARGS__)
#define log_info(...) log_print(6, __VA_ARGS__)
