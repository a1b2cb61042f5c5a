#include "harness.h"
int main(void) { return test_exit("ref-moe"); }
