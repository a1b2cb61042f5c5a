#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "vkinfer/vkinfer.h"

int cmd_version(int argc, char **argv) {
        if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                printf("Usage: vkinfer version\nPrints the version of vkinfer.\n");
                return 0;
        }
        if (argc > 1) {
                fprintf(stderr, "Usage: vkinfer version\n");
                return 2;
        }
        printf("vkinfer %s\n", vkinfer_version());
        return 0;
}
