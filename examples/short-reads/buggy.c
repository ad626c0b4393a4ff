/* buggy: sums the records of a file, assuming read(2) returns the whole request.
 *
 * The classic bug: a read of RECORD bytes is taken to be one record. On a disk file it almost
 * always is; on a pipe, a socket, a FUSE file or after a signal, read(2) may return less. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "records.h"

int main(int argc, char **argv) {
    char rec[RECORD];
    long count = 0, sum = 0;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror(argv[1]); return 2; }
    for (;;) {
        ssize_t n = read(fd, rec, RECORD);
        if (n < 0) { perror("read"); return 1; }
        if (n == 0) break;
        count++;                              /* wrong when n < RECORD */
        sum += atol(rec + 4);
    }
    printf("records=%ld sum=%ld\n", count, sum);
    return 0;
}
