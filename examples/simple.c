/* Placeholder until the engine API is implemented. */
#include "beanbag.h"
int main(void) { return 0; }
