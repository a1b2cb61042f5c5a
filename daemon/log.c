#include "log.h"

#include <stdarg.h>
#include <string.h>

void log_print(int priority, const char *fmt, ...) {
        /* Under systemd (JOURNAL_STREAM set) the prefix sets the priority;
         * on a terminal it would be noise. */
        static int journal = -1;
        if (journal < 0)
                journal = getenv("JOURNAL_STREAM") != NULL;
        char line[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (journal)
                fprintf(stderr, "<%d>%s\n", priority, line);
        else
                fprintf(stderr, "vkinferd: %s\n", line);
}
