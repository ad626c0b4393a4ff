/* fixed: the same program with a proper read loop: short reads and EINTR are not errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "records.h"

/* Read exactly len bytes unless end of file comes first: the bytes read, or -1. */
static ssize_t read_full(int fd, char *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) break;
        got += n;
    }
    return got;
}

int main(int argc, char **argv) {
    char rec[RECORD];
    long count = 0, sum = 0;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror(argv[1]); return 2; }
    for (;;) {
        ssize_t n = read_full(fd, rec, RECORD);
        if (n < 0) { perror("read"); return 1; }
        if (n == 0) break;
        if (n < RECORD) { fprintf(stderr, "truncated record\n"); return 1; }
        count++;
        sum += atol(rec + 4);
    }
    printf("records=%ld sum=%ld\n", count, sum);
    return 0;
}
