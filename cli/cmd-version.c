#include <stdio.h>

#include "commands.h"
#include "vkinfer/vkinfer.h"

int cmd_version(int argc, char **argv) {
        printf("vkinfer %s\n", vkinfer_version());
        return 0;
}
