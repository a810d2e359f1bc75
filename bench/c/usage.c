/* Lower bound for an applet's cold start: a static C program that does what
 * `poweroff --help` must do (write a usage text, exit 0) and nothing else. */
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: poweroff [-p|--poweroff] [-H|--halt] [-r|--reboot] [-f|--force] [-n|--no-sync] [--no-wall]\n";

int main(void) {
  return write(1, usage, sizeof usage - 1) == (ssize_t)(sizeof usage - 1) ? 0 : 1;
}
