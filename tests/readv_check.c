/*
 * readv_check PATH [--stream|--zero]
 *
 * Vectored I/O (writev, readv, pwritev, preadv) against one file, every byte checked.
 *
 *   (default)  PATH is seekable and writable (a RAM device such as iofs /mem0, or a regular
 *              file, created if missing): data written with one iovec layout is read back with
 *              others (1, 2, 17 and 1024 iovecs of mixed sizes, empty ones included), at
 *              aligned and odd offsets, across the 1 MiB FUSE request size; the bytes around
 *              each written range must stay untouched, and writev/readv must advance the file
 *              offset by exactly the count while pwritev/preadv leave it alone.
 *   --stream   PATH is a pipe-like device of at least 64 KiB capacity (iofs /pipe0): opened
 *              O_RDWR, data goes in with writev and comes out, in order, with readv through the
 *              same fd; never more than 64 KiB is buffered, so no write waits, and poll() must
 *              report the data readable before each readv, so no read waits either (a process
 *              waiting in a FUSE read cannot be killed, so the check must never wait).
 *   --zero     PATH reads as zeros and accepts writes (iofs /zero): readv/preadv must fill
 *              every iovec with zeros, writev/pwritev must report every byte written.
 *
 * A transfer must move the whole request: a short count, an error, a wrong byte, an
 * iovec guard byte overwritten or a wrong file offset is a failure. One line is printed per
 * mismatch (at most MAX_REPORT per check, then a count); the exit status is 0 when everything
 * matched, 1 on any failure, 2 on a usage error. A watchdog alarm ends a hung run (status
 * from SIGALRM, never 0; it cannot end a wait inside a FUSE request, hence the care above).
 *
 * Portable C99 + POSIX (preadv/pwritev are BSD/Linux): gcc -O2 -Wall -Wextra readv_check.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_REPORT 20
#define MAX_IOV 1024
#define PIPE_CAPACITY 65536
#define WATCHDOG_SECONDS 120
#define POISON 0xA5
#define GUARD 0x5A

static const char *path;
static long failures;
static long checks;

/* ---- patterns ------------------------------------------------------------------------------ */

/* The byte at position pos of data set `round`: a hash, so a shifted, repeated or stale byte
 * almost never matches by chance. */
static unsigned char pattern(uint32_t round, uint64_t pos)
{
    uint64_t x = pos * UINT64_C(0x9E3779B97F4A7C15) ^ ((uint64_t)round * UINT64_C(0xBF58476D1CE4E5B9));
    x ^= x >> 31;
    x *= UINT64_C(0x94D049BB133111EB);
    x ^= x >> 29;
    return (unsigned char)(x & 0xff);
}

/* ---- iovec layouts ------------------------------------------------------------------------- */

struct layout {
    int count;
    size_t len[MAX_IOV];
};

struct vec {
    int count;
    struct iovec iov[MAX_IOV];
    unsigned char *mem[MAX_IOV]; /* each iovec's buffer, one guard byte past its end */
};

static size_t layout_total(const struct layout *l)
{
    size_t t = 0;
    for (int i = 0; i < l->count; i++)
        t += l->len[i];
    return t;
}

/* `count` iovecs whose sizes cycle through `table` (0 included: empty iovecs). */
static void layout_cycle(struct layout *l, int count, const size_t *table, int n, int salt)
{
    l->count = count;
    for (int i = 0; i < count; i++)
        l->len[i] = table[(i * 7 + salt) % n];
}

/* `count` iovecs of mixed sizes (some empty) adding up to exactly `total`. */
static void layout_split(struct layout *l, int count, size_t total, int salt)
{
    static const unsigned weight[] = {3, 0, 1, 7, 2, 0, 5, 1, 11, 4, 0, 9, 1, 6};
    const int nw = (int)(sizeof weight / sizeof weight[0]);
    uint64_t wsum = 0;
    int last = -1;
    l->count = count;
    for (int i = 0; i < count; i++) {
        unsigned w = weight[(i * 5 + salt) % nw];
        if (count == 1)
            w = 1;
        wsum += w;
        if (w)
            last = i;
    }
    size_t given = 0;
    for (int i = 0; i < count; i++) {
        unsigned w = count == 1 ? 1 : weight[(i * 5 + salt) % nw];
        l->len[i] = wsum ? (size_t)((uint64_t)total * w / wsum) : 0;
        given += l->len[i];
    }
    if (last < 0)
        last = count - 1; /* every weight 0: the last iovec takes it all */
    l->len[last] += total - given;
}

static void vec_alloc(struct vec *v, const struct layout *l)
{
    v->count = l->count;
    for (int i = 0; i < l->count; i++) {
        v->mem[i] = malloc(l->len[i] + 1);
        if (!v->mem[i]) {
            fprintf(stderr, "readv_check: out of memory\n");
            exit(1);
        }
        v->mem[i][l->len[i]] = GUARD;
        v->iov[i].iov_base = v->mem[i];
        v->iov[i].iov_len = l->len[i];
    }
}

static void vec_free(struct vec *v)
{
    for (int i = 0; i < v->count; i++)
        free(v->mem[i]);
    v->count = 0;
}

/* Fill the iovecs with pattern(round, start + logical position). */
static void vec_fill(struct vec *v, uint32_t round, uint64_t start)
{
    uint64_t pos = start;
    for (int i = 0; i < v->count; i++)
        for (size_t k = 0; k < v->iov[i].iov_len; k++)
            v->mem[i][k] = pattern(round, pos++);
}

static void vec_poison(struct vec *v)
{
    for (int i = 0; i < v->count; i++)
        memset(v->mem[i], POISON, v->iov[i].iov_len);
}

#if defined(__GNUC__)
static void fail(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif

static void fail(const char *what, const char *fmt, ...)
{
    va_list ap;
    failures++;
    printf("FAIL %s: ", what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* Compare what a read put in the iovecs with the expected bytes: pattern(round, start + pos),
 * or zeros when zero is set. Checks the guard byte after every iovec too. */
static void vec_check(const char *what, const struct vec *v, int zero, uint32_t round,
                      uint64_t start, uint64_t file_off)
{
    long bad = 0;
    uint64_t pos = 0;
    checks++;
    for (int i = 0; i < v->count; i++) {
        for (size_t k = 0; k < v->iov[i].iov_len; k++, pos++) {
            unsigned char want = zero ? 0 : pattern(round, start + pos);
            unsigned char got = v->mem[i][k];
            if (got != want) {
                if (bad < MAX_REPORT)
                    printf("MISMATCH %s: %s offset %llu (iovec %d byte %zu): expected 0x%02x got 0x%02x\n",
                           what, path, (unsigned long long)(file_off + pos), i, k, want, got);
                bad++;
            }
        }
        if (v->mem[i][v->iov[i].iov_len] != GUARD) {
            printf("MISMATCH %s: guard byte after iovec %d (length %zu) overwritten\n",
                   what, i, v->iov[i].iov_len);
            bad++;
        }
    }
    if (bad > MAX_REPORT)
        printf("MISMATCH %s: ... %ld mismatches in all\n", what, bad);
    if (bad) {
        failures++;
        fflush(stdout);
    }
}

/* ---- plain helpers ------------------------------------------------------------------------- */

static int check_count(const char *what, ssize_t got, size_t want)
{
    checks++;
    if (got < 0) {
        fail(what, "%s: %s", path, strerror(errno));
        return 0;
    }
    if ((size_t)got != want) {
        fail(what, "%s: moved %zd bytes, expected %zu", path, got, want);
        return 0;
    }
    return 1;
}

static void check_pos(const char *what, int fd, off_t want)
{
    off_t pos = lseek(fd, 0, SEEK_CUR);
    checks++;
    if (pos != want)
        fail(what, "file offset %lld after the call, expected %lld", (long long)pos, (long long)want);
}

static void put(int fd, const unsigned char *buf, size_t n, off_t off)
{
    ssize_t r = pwrite(fd, buf, n, off);
    if (r < 0 || (size_t)r != n)
        fail("pwrite", "%s at %lld: %s", path, (long long)off, r < 0 ? strerror(errno) : "short");
}

/* ---- seekable mode ------------------------------------------------------------------------- */

static const size_t MIXED[] = {0, 1, 2, 3, 17, 0, 511, 512, 513, 4095, 4096, 4097, 1, 8195, 100, 0, 65537};
static const size_t SMALL[] = {0, 1, 2, 3, 7, 17, 0, 31, 64, 5, 1, 0, 100, 255};
#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Read [off, off + total) back with layout `l` (positional or through the file offset) and
 * check it is pattern(round, off + ...). */
static void read_back(int fd, const char *what, const struct layout *l, int positional,
                      uint32_t round, off_t off)
{
    struct vec v;
    char name[160];
    size_t total = layout_total(l);
    ssize_t r;
    vec_alloc(&v, l);
    vec_poison(&v);
    if (positional) {
        snprintf(name, sizeof name, "%s/preadv(%d iovecs, %zu bytes at %lld)", what, l->count, total, (long long)off);
        off_t before = lseek(fd, 0, SEEK_CUR);
        r = preadv(fd, v.iov, v.count, off);
        if (check_count(name, r, total))
            vec_check(name, &v, 0, round, (uint64_t)off, (uint64_t)off);
        check_pos(name, fd, before);
    } else {
        snprintf(name, sizeof name, "%s/readv(%d iovecs, %zu bytes at %lld)", what, l->count, total, (long long)off);
        if (lseek(fd, off, SEEK_SET) != off)
            fail(name, "lseek: %s", strerror(errno));
        r = readv(fd, v.iov, v.count);
        if (check_count(name, r, total))
            vec_check(name, &v, 0, round, (uint64_t)off, (uint64_t)off);
        check_pos(name, fd, off + (r > 0 ? r : 0));
    }
    vec_free(&v);
}

/* Write layout `l` at `off` (writev or pwritev), then read it back four ways; the byte before
 * and the byte after the range must be untouched. */
static void seekable_round(int fd, const struct layout *l, int positional, uint32_t round, off_t off)
{
    struct vec v;
    char name[160];
    size_t total = layout_total(l);
    unsigned char guard_before = (unsigned char)(0xC3 ^ round), guard_after = (unsigned char)(0x3C ^ round);
    ssize_t r;

    if (off > 0)
        put(fd, &guard_before, 1, off - 1);
    put(fd, &guard_after, 1, off + (off_t)total);

    vec_alloc(&v, l);
    vec_fill(&v, round, (uint64_t)off);
    if (positional) {
        snprintf(name, sizeof name, "pwritev(%d iovecs, %zu bytes at %lld)", l->count, total, (long long)off);
        off_t before = lseek(fd, 0, SEEK_CUR);
        r = pwritev(fd, v.iov, v.count, off);
        check_count(name, r, total);
        check_pos(name, fd, before);
    } else {
        snprintf(name, sizeof name, "writev(%d iovecs, %zu bytes at %lld)", l->count, total, (long long)off);
        if (lseek(fd, off, SEEK_SET) != off)
            fail(name, "lseek: %s", strerror(errno));
        r = writev(fd, v.iov, v.count);
        check_count(name, r, total);
        check_pos(name, fd, off + (r > 0 ? r : 0));
    }
    vec_free(&v);

    /* the same layout, then 1, 17 and 1024 iovecs of other sizes, positional and not */
    struct layout other;
    read_back(fd, name, l, !positional, round, off);
    layout_split(&other, 1, total, 0);
    read_back(fd, name, &other, positional, round, off);
    layout_split(&other, 17, total, (int)round);
    read_back(fd, name, &other, !positional, round, off);
    layout_split(&other, MAX_IOV, total, (int)round + 3);
    read_back(fd, name, &other, positional, round, off);

    /* the neighbours */
    unsigned char b;
    checks++;
    if (off > 0 && (pread(fd, &b, 1, off - 1) != 1 || b != guard_before))
        printf("MISMATCH %s: byte before the range (offset %lld) changed\n", name, (long long)off - 1), failures++;
    if (pread(fd, &b, 1, off + (off_t)total) != 1 || b != guard_after)
        printf("MISMATCH %s: byte after the range (offset %lld) changed\n", name, (long long)(off + (off_t)total)), failures++;
}

static void seekable_layouts(struct layout *ls, int *n)
{
    static const size_t ones[] = {1};
    int k = 0;
    ls[k].count = 1, ls[k].len[0] = 1, k++;
    ls[k].count = 1, ls[k].len[0] = (3 << 19) + 3, k++;  /* 1.5 MiB + 3: two FUSE requests */
    ls[k].count = 2, ls[k].len[0] = 0, ls[k].len[1] = 70001, k++;
    ls[k].count = 2, ls[k].len[0] = 4097, ls[k].len[1] = 1, k++;
    layout_cycle(&ls[k++], 17, MIXED, N(MIXED), 0);
    layout_cycle(&ls[k++], 17, SMALL, N(SMALL), 2);
    layout_cycle(&ls[k++], MAX_IOV, MIXED, N(MIXED), 1);   /* about 5 MiB */
    layout_cycle(&ls[k++], MAX_IOV, SMALL, N(SMALL), 0);
    layout_cycle(&ls[k++], MAX_IOV, ones, 1, 0);           /* 1024 one-byte iovecs */
    ls[k].count = 3, ls[k].len[0] = ls[k].len[1] = ls[k].len[2] = 0, k++;  /* nothing at all */
    *n = k;
}

static int run_seekable(void)
{
    static struct layout ls[16];
    int n;
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        fprintf(stderr, "readv_check: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    seekable_layouts(ls, &n);
    uint32_t round = 1;
    off_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t total = layout_total(&ls[i]);
        /* at an aligned offset with writev, then at an odd one with pwritev */
        seekable_round(fd, &ls[i], 0, round++, off);
        seekable_round(fd, &ls[i], 1, round++, off + 4093);
        off += (off_t)((total + 4093 + 2 + 4095) / 4096 * 4096);
    }
    /* the last round again at 0 with a fresh pattern: data written earlier is replaced */
    seekable_round(fd, &ls[4], 0, round++, 0);
    if (close(fd) != 0)
        fail("close", "%s: %s", path, strerror(errno));
    return 0;
}

/* ---- zero mode ----------------------------------------------------------------------------- */

static int run_zero(void)
{
    static struct layout ls[16];
    int n;
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "readv_check: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    seekable_layouts(ls, &n);
    for (int i = 0; i < n; i++) {
        struct vec v;
        char name[160];
        size_t total = layout_total(&ls[i]);
        ssize_t r;
        vec_alloc(&v, &ls[i]);

        vec_poison(&v);
        snprintf(name, sizeof name, "readv(%d iovecs, %zu bytes)", v.count, total);
        r = readv(fd, v.iov, v.count);
        if (check_count(name, r, total))
            vec_check(name, &v, 1, 0, 0, 0);

        vec_poison(&v);
        snprintf(name, sizeof name, "preadv(%d iovecs, %zu bytes at 12345)", v.count, total);
        r = preadv(fd, v.iov, v.count, 12345);
        if (check_count(name, r, total))
            vec_check(name, &v, 1, 0, 0, 12345);

        vec_fill(&v, (uint32_t)i + 1, 0);
        snprintf(name, sizeof name, "writev(%d iovecs, %zu bytes)", v.count, total);
        check_count(name, writev(fd, v.iov, v.count), total);
        snprintf(name, sizeof name, "pwritev(%d iovecs, %zu bytes at 4095)", v.count, total);
        check_count(name, pwritev(fd, v.iov, v.count, 4095), total);

        /* written data does not come back: still zeros */
        vec_poison(&v);
        snprintf(name, sizeof name, "preadv after write(%d iovecs, %zu bytes at 4095)", v.count, total);
        r = preadv(fd, v.iov, v.count, 4095);
        if (check_count(name, r, total))
            vec_check(name, &v, 1, 0, 0, 4095);
        vec_free(&v);
    }
    if (close(fd) != 0)
        fail("close", "%s: %s", path, strerror(errno));
    return 0;
}

/* ---- stream mode --------------------------------------------------------------------------- */

static uint64_t stream_in, stream_out; /* bytes written / read so far: positions in the stream */
static size_t buffered;

/* writev the layout whole (a blocking pipe write moves everything: one call must do). */
static void stream_write(int fd, const struct layout *l)
{
    struct vec v;
    char name[160];
    size_t total = layout_total(l);
    if (buffered + total > PIPE_CAPACITY) {
        fprintf(stderr, "readv_check: internal error: %zu + %zu bytes exceed the pipe\n", buffered, total);
        exit(1);
    }
    vec_alloc(&v, l);
    vec_fill(&v, 7, stream_in);
    snprintf(name, sizeof name, "writev(%d iovecs, %zu bytes, stream position %llu)", l->count, total,
             (unsigned long long)stream_in);
    ssize_t r = writev(fd, v.iov, v.count);
    if (check_count(name, r, total)) {
        stream_in += total;
        buffered += total;
    } else if (r > 0) {
        stream_in += (size_t)r;
        buffered += (size_t)r;
    }
    vec_free(&v);
}

/* readv the layout whole: everything asked for is buffered, so one call must return it all. */
static void stream_read(int fd, const struct layout *l)
{
    struct vec v;
    char name[160];
    size_t total = layout_total(l);
    if (total > buffered) {
        fprintf(stderr, "readv_check: internal error: reading %zu of %zu buffered bytes\n", total, buffered);
        exit(1);
    }
    vec_alloc(&v, l);
    vec_poison(&v);
    snprintf(name, sizeof name, "readv(%d iovecs, %zu bytes, stream position %llu)", l->count, total,
             (unsigned long long)stream_out);
    /* A blocking FUSE read cannot be interrupted, not even by SIGKILL (the request is in the
     * daemon): if the data we wrote got lost, readv would wait for ever. So the bytes must be
     * reported readable first; then readv returns at once, short if some are missing. */
    if (total > 0) {
        struct pollfd p = {fd, POLLIN, 0};
        int ready = poll(&p, 1, 5000);
        checks++;
        if (ready != 1 || !(p.revents & POLLIN)) {
            fail(name, "%s: %zu bytes written but not readable (poll %d, revents 0x%x)", path,
                 buffered, ready, (unsigned)p.revents);
            vec_free(&v);
            exit(1);
        }
    }
    ssize_t r = readv(fd, v.iov, v.count);
    if (check_count(name, r, total))
        vec_check(name, &v, 0, 7, stream_out, stream_out);
    if (r > 0) {
        stream_out += (size_t)r;
        buffered -= (size_t)r;
    }
    vec_free(&v);
}

static int run_stream(void)
{
    static struct layout w, r;
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "readv_check: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    /* Anything left by an earlier user would shift the stream: drain it without blocking. */
    int nb = open(path, O_RDONLY | O_NONBLOCK);
    if (nb >= 0) {
        static unsigned char junk[65536];
        ssize_t got;
        long drained = 0;
        while ((got = read(nb, junk, sizeof junk)) > 0)
            drained += got;
        if (drained)
            fprintf(stderr, "readv_check: note: drained %ld stale bytes from %s\n", drained, path);
        close(nb);
    }

    static const size_t ones[] = {1};
    const int counts[] = {1, 2, 17, MAX_IOV};
    /* for each count: write with one layout, read back with another of the same total */
    for (int c = 0; c < 4; c++) {
        for (int variant = 0; variant < 3; variant++) {
            if (variant == 0)
                layout_cycle(&w, counts[c], SMALL, N(SMALL), c);
            else if (variant == 1)
                layout_cycle(&w, counts[c], ones, 1, 0);
            else
                layout_split(&w, counts[c], counts[c] == 1 ? 4096 : 5000 + (size_t)c * 3001, c);
            size_t total = layout_total(&w);
            stream_write(fd, &w);
            /* read it back in one readv: the writer's own layout, or another count */
            if (variant == 0) {
                stream_read(fd, &w);
            } else {
                layout_split(&r, counts[(c + variant) % 4], total, c + variant);
                stream_read(fd, &r);
            }
            /* whatever the chosen read left (none: totals are equal) */
            if (buffered) {
                layout_split(&r, 1, buffered, 0);
                stream_read(fd, &r);
            }
        }
    }

    /* empty iovecs only: 0 bytes each way, and nothing may block */
    w.count = 3, w.len[0] = w.len[1] = w.len[2] = 0;
    stream_write(fd, &w);
    stream_write(fd, &w);
    stream_read(fd, &w);

    /* exactly the capacity in 17 iovecs (larger than PIPE_BUF: not atomic), read in 1024 */
    layout_split(&w, 17, PIPE_CAPACITY, 1);
    stream_write(fd, &w);
    layout_split(&r, MAX_IOV, PIPE_CAPACITY, 2);
    stream_read(fd, &r);

    /* wrap around the ring: 40000 in, 30001 out, 50000 in (buffered 59999), then all out */
    layout_split(&w, 17, 40000, 3);
    stream_write(fd, &w);
    layout_split(&r, 2, 30001, 0);
    stream_read(fd, &r);
    layout_split(&w, MAX_IOV, 50000, 4);
    stream_write(fd, &w);
    layout_split(&r, 17, buffered, 5);
    stream_read(fd, &r);

    /* many small writevs, several reads, interleaved, positions carried across them */
    for (int k = 0; k < 20; k++) {
        layout_cycle(&w, 1 + k % 17, SMALL, N(SMALL), k);
        stream_write(fd, &w);
        if (k % 3 == 2 && buffered) {
            layout_split(&r, 1 + (k * 13) % MAX_IOV, buffered / 2 + 1, k);
            stream_read(fd, &r);
        }
    }
    if (buffered) {
        layout_split(&r, 2, buffered, 1);
        stream_read(fd, &r);
    }

    /* empty now: a non-blocking read must say EAGAIN, not hand out bytes */
    nb = open(path, O_RDONLY | O_NONBLOCK);
    if (nb >= 0) {
        unsigned char b;
        ssize_t got = read(nb, &b, 1);
        checks++;
        if (got != -1 || (errno != EAGAIN && errno != EWOULDBLOCK))
            fail("drained", "%s: read of an empty pipe returned %zd (%s), expected EAGAIN", path, got,
                 got < 0 ? strerror(errno) : "data");
        close(nb);
    }
    if (close(fd) != 0)
        fail("close", "%s: %s", path, strerror(errno));
    return 0;
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    enum { SEEKABLE, STREAM, ZERO } mode = SEEKABLE;
    if (argc == 3 && strcmp(argv[2], "--stream") == 0)
        mode = STREAM;
    else if (argc == 3 && strcmp(argv[2], "--zero") == 0)
        mode = ZERO;
    else if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: readv_check PATH [--stream|--zero]\n");
        return 2;
    }
    path = argv[1];
    alarm(WATCHDOG_SECONDS);
    setvbuf(stdout, NULL, _IOLBF, 0);

    int err;
    if (mode == STREAM)
        err = run_stream();
    else if (mode == ZERO)
        err = run_zero();
    else
        err = run_seekable();
    if (err)
        return 1;
    if (failures) {
        printf("readv_check %s: %ld failure(s) in %ld checks\n", path, failures, checks);
        return 1;
    }
    printf("readv_check %s: ok, %ld checks\n", path, checks);
    return 0;
}
