/*
 * tests/fuzz/gen_corpus_api.c - writes the seed corpus of fuzz_api.
 *
 *   fuzz_api_gen_corpus OUTDIR
 *
 * Every seed starts from the same setup (two runs, one the other's child;
 * KV pairs, one expiring; events, one idempotent; cells; a small trace
 * tree).  Then one seed per operation kind calls it implicitly, in a
 * read-write transaction that commits, in a read-only one and with a NULL
 * transaction; and a few scenario seeds chain calls: a conflict,
 * iterators across a commit and a restart, a run's lifecycle with writes
 * refused once it finished, traces finished twice, three transactions at
 * once (CAIRN_BUSY), key encoding, database calls.  Each seed runs through
 * the target (the same model checks) before it is written.
 *
 * The target's source is included, so the seeds use its operation numbers
 * and argument decoding directly.
 */
#include "fuzz_api.c"

#include <errno.h>
#include <sys/stat.h>

typedef struct seed {
    uint8_t b[4096];
    size_t n;
} seed;

static void add_op(seed *s, int kind, const uint8_t *args, size_t n)
{
    if (s->n + 2 + n > sizeof s->b) {
        fprintf(stderr, "a seed is too long\n");
        exit(1);
    }
    s->b[s->n++] = (uint8_t)kind;
    s->b[s->n++] = (uint8_t)n;
    memcpy(s->b + s->n, args, n);
    s->n += n;
}

/* OP(seed, kind, argument bytes...) */
#define OP(s, kind, ...)                                           \
    do {                                                           \
        const uint8_t args_[] = {__VA_ARGS__};                     \
        add_op((s), (kind), args_, sizeof args_);                  \
    } while (0)

/* Target bytes (the first argument of a call with both forms). */
enum { IMPLICIT = 0, NULLTXN = 12, SLOT0 = 15, SLOT1 = 13, SLOT2 = 14 };
/* Begin modes */
enum { RW = 0, RO = 5 };

static void setup(seed *s)
{
    /* run "abc" tagged red, blue; its child "ab" */
    OP(s, K_RUN_CREATE, IMPLICIT, 2, 3, 1, 8, 0, 1, 3, 0, 5, 0);
    OP(s, K_RUN_CREATE, IMPLICIT, 2, 2, 0, 7, 0, 3, 0, 3, 0);
    /* KV: F0 a, b; scratch ab; run 4 a; F1 a expiring */
    OP(s, K_KV_PUT, IMPLICIT, 0, 0, 3, 0, 4, 0);
    OP(s, K_KV_PUT, IMPLICIT, 0, 1, 3, 9, 6, 0);
    OP(s, K_KV_PUT, IMPLICIT, 4, 2, 3, 20, 2, 0);
    OP(s, K_KV_PUT, IMPLICIT, 7, 0, 3, 30, 3, 0);
    OP(s, K_KV_PUT_TTL, IMPLICIT, 2, 0, 3, 1, 4, 4, 0, 10);
    /* events: F0 a, b, once "abc"; run 4 abc */
    OP(s, K_EV_APPEND, IMPLICIT, 0, 0, 3, 0, 7, 2, 2, 0);
    OP(s, K_EV_APPEND, IMPLICIT, 0, 1, 3, 5, 3, 2, 2, 0);
    OP(s, K_EV_APPEND_ONCE, IMPLICIT, 0, 0, 3, 7, 3, 3, 2, 0);
    OP(s, K_EV_APPEND, IMPLICIT, 7, 3, 3, 0, 1, 0, 2, 0);
    /* cells: F0 a, b; run 4 a */
    OP(s, K_CELL_INIT, IMPLICIT, 0, 0, 3, 0, 4, 3, 0, 4, 3, 0, 0);
    OP(s, K_CELL_SET, IMPLICIT, 0, 1, 3, 2, 4, 3, 0, 4, 3, 0, 0);
    OP(s, K_CELL_INIT, IMPLICIT, 7, 0, 3, 0, 4, 3, 0, 4, 3, 0, 0);
    /* traces of F0: root "a" tagged red, its child "b", a root with a generated id */
    OP(s, K_TR_RECORD_ID, IMPLICIT, 0, 0, 0, 0, 3, 1, 3, 8, 0, 0, 3, 0, 5, 0);
    OP(s, K_TR_RECORD_ID, IMPLICIT, 0, 0, 1, 1, 1, 2, 1, 3, 0, 3, 0, 2, 0);
    OP(s, K_TR_RECORD, IMPLICIT, 0, 0, 0, 0, 2, 1, 3, 0, 3, 0, 2, 0);
    OP(s, K_CLOCK, 3, 50);
}

typedef struct kind_args {
    int kind;
    uint8_t args[16]; /* after the target byte */
    size_t n;
} kind_args;

#define KA(kind, ...) {kind, {__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__})}

/* Arguments that reach the interesting path of each kind on the setup. */
static const kind_args g_args[] = {
    KA(K_KV_GET, 0, 0, 0),
    KA(K_KV_EXISTS, 0, 1, 0),
    KA(K_KV_GET_MANY, 0, 3, 0, 1, 2, 0),
    KA(K_KV_PUT, 0, 2, 3, 0, 9, 0),
    KA(K_KV_PUT_TTL, 0, 3, 3, 0, 9, 4, 0, 1),
    KA(K_KV_DELETE, 0, 1, 0),
    KA(K_KV_LIST, 1, 0, 1, 1, 5, 1, 0),
    KA(K_KV_SWEEP, 0, 0),
    KA(K_EV_APPEND, 0, 1, 3, 0, 7, 2, 2, 0),
    KA(K_EV_APPEND_EXPECT, 0, 0, 3, 0, 7, 2, 2, 0),
    KA(K_EV_APPEND_ONCE, 0, 0, 3, 7, 3, 3, 2, 0),
    KA(K_EV_READ, 0, 1, 0),
    KA(K_EV_LEN, 0, 1, 0),
    KA(K_EV_HEAD, 0, 1, 0),
    KA(K_EV_ITER_RANGE, 0, 0, 0, 0, 0, 0, 0),
    KA(K_EV_ITER_TYPE, 1, 0, 0, 0, 0, 1, 0),
    KA(K_EV_TYPES, 0, 0, 0, 1, 0),
    KA(K_EV_VERIFY, 0, 0, 0, 1, 0),
    KA(K_EV_VERIFY_FROM, 0, 1, 0, 1, 0),
    KA(K_CELL_READ, 0, 0, 3, 0, 4, 3, 0, 4, 3, 0, 0),
    KA(K_CELL_EXISTS, 0, 1, 3, 0, 4, 3, 0, 4, 3, 0, 0),
    KA(K_CELL_INIT, 0, 2, 3, 0, 4, 3, 0, 4, 3, 0, 0),
    KA(K_CELL_CAS, 0, 0, 3, 0, 4, 3, 0, 4, 3, 0, 0),
    KA(K_CELL_SET, 0, 1, 3, 0, 4, 3, 0, 4, 3, 0, 0),
    KA(K_CELL_DELETE, 0, 1, 3, 0, 4, 3, 0, 4, 3, 0, 0),
    KA(K_CELL_TRANSITION, 0, 0, 3, 0, 4, 3, 0, 4, 3, 0, 0),
    KA(K_CELL_TRANSITION_INIT, 0, 3, 3, 0, 4, 3, 0, 4, 3, 0, 0),
    KA(K_CELL_LIST, 0, 0, 1, 1, 1, 0),
    KA(K_TR_RECORD, 0, 0, 0, 0, 2, 1, 3, 0, 3, 0, 2, 0),
    KA(K_TR_RECORD_CHILD, 0, 1, 1, 1, 2, 1, 3, 0, 3, 0, 2, 0),
    KA(K_TR_RECORD_ID, 0, 0, 2, 1, 1, 2, 1, 3, 0, 3, 0, 2, 0),
    KA(K_TR_FINISH, 0, 1, 1, 4),
    KA(K_TR_GET, 0, 1, 3, 6, 0),
    KA(K_TR_TREE, 0, 1, 3, 6, 0),
    KA(K_TR_CHECK, 0, 1, 3, 6, 0),
    KA(K_TR_BY_TYPE, 0, 3, 1, 0, 0, 1, 0, 0, 5, 5, 0),
    KA(K_TR_BY_TAG, 0, 3, 1, 0, 0, 1, 0, 0, 5, 5, 0),
    KA(K_TR_BY_TIME, 0, 3, 1, 0, 0, 1, 0, 0, 5, 5, 0),
    KA(K_TR_CHILDREN, 0, 3, 1, 0, 0, 1, 0, 0, 5, 5, 0),
    KA(K_TR_ROOTS, 0, 3, 1, 0, 0, 1, 0, 0, 5, 5, 0),
    KA(K_RUN_CREATE, 2, 7, 1, 3, 3, 0, 5, 0),
    KA(K_RUN_GET, 7, 0, 0),
    KA(K_RUN_GET_BY_NAME, 7, 0, 0),
    KA(K_RUN_STATUS, 7, 2, 0, 0, 1, 3, 0, 4, 1),
    KA(K_RUN_NAMED, 7, 0, 0, 0, 1, 3, 0, 4, 1),
    KA(K_RUN_FAIL, 7, 0, 0, 0, 1, 3, 0, 4, 1),
    KA(K_RUN_ADD_TAG, 7, 0, 0, 0, 7, 3, 0, 4, 1),
    KA(K_RUN_REMOVE_TAG, 7, 0, 0, 0, 1, 3, 0, 4, 1),
    KA(K_RUN_METADATA, 7, 0, 0, 0, 1, 3, 0, 9, 1),
    KA(K_RUN_DELETE, 7, 0, 0, 1, 1, 3, 0, 4, 1),
    KA(K_RUN_LIST_ALL, 1, 1, 0, 7, 0, 0, 0, 5, 5, 0),
    KA(K_RUN_BY_STATUS, 1, 1, 0, 7, 0, 0, 0, 5, 5, 0),
    KA(K_RUN_BY_TAG, 1, 1, 0, 7, 0, 0, 0, 5, 5, 0),
    KA(K_RUN_BY_STATUS_TAG, 1, 1, 0, 7, 0, 0, 0, 5, 5, 0),
    KA(K_RUN_CHILDREN, 1, 1, 0, 7, 0, 0, 0, 5, 5, 0),
    KA(K_RUN_BY_TIME, 1, 1, 0, 7, 0, 0, 0, 5, 5, 0),
    KA(K_RUN_COUNT, 7, 1, 0),
    KA(K_RUN_CHECK, 7, 1, 0),
    KA(K_RUN_WRITABLE, 7, 1, 0),
    KA(K_TXN_GET, 1, 9, 0, 2, 9, 1, 1, 3, 0, 5, 4, 0, 5, 2, 0),
    KA(K_TXN_PUT, 1, 9, 1, 1, 9, 1, 1, 3, 0, 5, 4, 0, 5, 2, 0),
    KA(K_TXN_PUT_EXPIRING, 1, 9, 2, 3, 9, 1, 1, 3, 0, 5, 4, 0, 5, 2, 0),
    KA(K_TXN_DELETE, 1, 9, 0, 2, 9, 1, 1, 3, 0, 5, 4, 0, 5, 2, 0),
    KA(K_TXN_GET_MANY, 1, 9, 0, 2, 9, 1, 1, 3, 0, 5, 4, 0, 5, 2, 0),
    KA(K_TXN_SCAN, 0, 0, 0, 0, 0, 9, 0, 0, 9, 1, 1, 0),
    KA(K_TXN_BULK, 0, 0, 200, 0, 0, 1, 1, 3, 0, 2),
};

static void call(seed *s, const kind_args *a, uint8_t target)
{
    uint8_t buf[32];
    buf[0] = target;
    memcpy(buf + 1, a->args, a->n);
    add_op(s, a->kind, buf, a->n + 1);
}

static char g_out[4096];
static int g_count;

static void write_seed(const char *name, const seed *s)
{
    /* the seed must pass the target */
    LLVMFuzzerTestOneInput(s->b, s->n);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", g_out, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    g_count++;
}

/* One kind: implicitly, in a read-write transaction, in a read-only one,
 * with a NULL transaction; iterators are walked and outlive their commit. */
static void kind_seed(const kind_args *a)
{
    seed s = {{0}, 0};
    setup(&s);
    bool tx_only = g_ops[a->kind].form == F_TX;
    bool iter = g_ops[a->kind].iter != IT_NONE;
    if (!tx_only)
        call(&s, a, IMPLICIT);
    OP(&s, K_BEGIN, 0, RW, 0);
    call(&s, a, SLOT0);
    if (iter)
        for (int i = 0; i < 4; i++)
            OP(&s, K_ITER_NEXT, 0, 0);
    OP(&s, K_COMMIT, 0);
    if (iter)
        OP(&s, K_ITER_NEXT, 0, 0);
    OP(&s, K_BEGIN, 1, RO, 0);
    call(&s, a, SLOT1);
    OP(&s, K_COMMIT, 1);
    call(&s, a, NULLTXN);
    char name[64];
    snprintf(name, sizeof name, "kind-%02d-%s", a->kind, g_ops[a->kind].name + (strncmp(g_ops[a->kind].name, "cairn_", 6) ? 0 : 6));
    for (char *p = name; *p; p++)
        if (*p == '/' || *p == ' ' || *p == ',')
            *p = '_';
    write_seed(name, &s);
}

static const kind_args *args_of(int kind)
{
    for (size_t i = 0; i < sizeof g_args / sizeof g_args[0]; i++)
        if (g_args[i].kind == kind)
            return &g_args[i];
    fprintf(stderr, "no arguments for kind %d\n", kind);
    exit(1);
}

static void scenarios(void)
{
    seed s;

    /* a read, then a commit by another writer of what was read */
    memset(&s, 0, sizeof s);
    setup(&s);
    OP(&s, K_BEGIN, 0, RW, 0);
    call(&s, args_of(K_KV_GET), SLOT0);
    call(&s, args_of(K_CELL_CAS), SLOT0);
    call(&s, args_of(K_KV_PUT), IMPLICIT);
    OP(&s, K_KV_PUT, IMPLICIT, 0, 0, 3, 0, 9, 0);
    call(&s, args_of(K_KV_PUT), SLOT0);
    OP(&s, K_COMMIT, 0);
    OP(&s, K_TXN_INFO, 0);
    OP(&s, K_RESTART, 0);
    call(&s, args_of(K_EV_APPEND), SLOT0);
    OP(&s, K_BEGIN, 1, RW, 0);
    call(&s, args_of(K_EV_APPEND), SLOT1);
    OP(&s, K_COMMIT, 1);
    OP(&s, K_COMMIT, 0);
    OP(&s, K_COMMIT, 0);
    OP(&s, K_ABORT, 0);
    OP(&s, K_FREE, 0);
    OP(&s, K_COMMIT, 0);
    write_seed("scenario-conflict", &s);

    /* iterators: own writes, a commit, a restart */
    memset(&s, 0, sizeof s);
    setup(&s);
    OP(&s, K_BEGIN, 0, RW, 0);
    call(&s, args_of(K_TXN_PUT), SLOT0);
    OP(&s, K_TXN_SCAN, SLOT0, 0, 1, 0, 0, 0, 9, 0, 0, 9, 1, 1, 0);
    OP(&s, K_TXN_SCAN, SLOT0, 3, 2, 2, 0, 0, 9, 0, 0, 9, 3, 5, 1);
    OP(&s, K_EV_ITER_RANGE, SLOT0, 3, 0, 1, 0, 0, 0, 0);
    call(&s, args_of(K_TXN_DELETE), SLOT0);
    for (int i = 0; i < 3; i++) {
        OP(&s, K_ITER_NEXT, 1, 0);
        OP(&s, K_ITER_NEXT, 2, 0);
        OP(&s, K_ITER_NEXT, 3, 0);
    }
    OP(&s, K_COMMIT, 0);
    OP(&s, K_ITER_NEXT, 1, 0);
    OP(&s, K_ITER_NEXT, 3, 0);
    OP(&s, K_ITER_FREE, 2);
    OP(&s, K_RESTART, 0);
    OP(&s, K_ITER_NEXT, 1, 0);
    OP(&s, K_FREE, 0);
    write_seed("scenario-iterators", &s);

    /* a run's lifecycle: writes refused once it finished, then deleted with its child */
    memset(&s, 0, sizeof s);
    setup(&s);
    OP(&s, K_RUN_STATUS, IMPLICIT, 7, 2, 0, 0, 1, 3, 0, 4, 1);   /* pause */
    OP(&s, K_RUN_STATUS, IMPLICIT, 7, 3, 0, 0, 1, 3, 0, 4, 1);   /* paused -> completed: refused */
    OP(&s, K_RUN_NAMED, IMPLICIT, 7, 0, 2, 0, 1, 3, 0, 4, 1);    /* resume */
    OP(&s, K_RUN_FAIL, IMPLICIT, 7, 0, 0, 0, 1, 3, 0, 4, 1);     /* fail */
    OP(&s, K_KV_PUT, IMPLICIT, 7, 1, 3, 0, 9, 0);                /* refused: READ_ONLY */
    OP(&s, K_EV_APPEND, IMPLICIT, 7, 1, 3, 0, 7, 2, 2, 0);
    OP(&s, K_CELL_SET, IMPLICIT, 7, 1, 3, 0, 4, 3, 0, 4, 3, 0, 0);
    OP(&s, K_RUN_NAMED, IMPLICIT, 7, 0, 4, 0, 1, 3, 0, 4, 1);    /* archive */
    OP(&s, K_RUN_NAMED, IMPLICIT, 7, 0, 1, 0, 1, 3, 0, 4, 1);    /* pause an archived run: refused */
    call(&s, args_of(K_RUN_ADD_TAG), IMPLICIT);
    call(&s, args_of(K_RUN_BY_STATUS), IMPLICIT);
    OP(&s, K_RUN_DELETE, IMPLICIT, 7, 0, 0, 0, 1, 3, 0, 4, 1);   /* has a child: refused */
    OP(&s, K_RUN_DELETE, IMPLICIT, 7, 0, 0, 1, 1, 3, 0, 4, 1);
    OP(&s, K_KV_PUT, IMPLICIT, 7, 1, 3, 0, 9, 0);                /* no longer registered: allowed */
    call(&s, args_of(K_RUN_LIST_ALL), IMPLICIT);
    write_seed("scenario-run-lifecycle", &s);

    /* traces: finished twice, trees under limits, queries with cursors */
    memset(&s, 0, sizeof s);
    setup(&s);
    OP(&s, K_TR_FINISH, IMPLICIT, 0, 0, 0, 1, 4);
    OP(&s, K_TR_FINISH, IMPLICIT, 0, 0, 0, 1, 4);
    OP(&s, K_TR_RECORD_CHILD, IMPLICIT, 0, 1, 2, 1, 2, 1, 3, 0, 3, 0, 2, 0);
    OP(&s, K_TR_TREE, IMPLICIT, 0, 0, 0, 1, 6, 0);
    OP(&s, K_TR_TREE, IMPLICIT, 0, 0, 0, 3, 2, 0);
    OP(&s, K_TR_BY_TIME, IMPLICIT, 0, 3, 1, 0, 0, 1, 0, 4, 3, 0);
    OP(&s, K_TR_ROOTS, IMPLICIT, 0, 3, 1, 0, 0, 1, 1, 5, 3, 0);
    write_seed("scenario-traces", &s);

    /* three transactions at once: the fourth, implicit calls and close are busy */
    memset(&s, 0, sizeof s);
    setup(&s);
    OP(&s, K_BEGIN, 0, RW, 0);
    OP(&s, K_BEGIN, 1, RO, 0);
    OP(&s, K_BEGIN, 2, RW, 0);
    call(&s, args_of(K_KV_GET), IMPLICIT);
    call(&s, args_of(K_KV_PUT), SLOT2);
    call(&s, args_of(K_EV_APPEND), SLOT0);
    OP(&s, K_DB_MISC, 6);
    OP(&s, K_DB_MISC, 0);
    OP(&s, K_DB_RUN, 0, 0, 3, 0, 4, 0, 0);
    OP(&s, K_COMMIT, 2);
    OP(&s, K_RESTART, 2);
    OP(&s, K_COMMIT, 0);
    OP(&s, K_DB_MISC, 0);
    write_seed("scenario-busy", &s);

    /* the index grows past inner-node splits, then loses most keys while a
     * read-only snapshot from before the deletes stays open */
    memset(&s, 0, sizeof s);
    setup(&s);
    OP(&s, K_BEGIN, 0, RW, 0);
    OP(&s, K_TXN_BULK, SLOT0, 0, 0x07, 0xCF, 0, 0, 1, 0, 3, 0, 2);    /* 1999 puts */
    OP(&s, K_TXN_BULK, SLOT0, 0, 0x01, 0x2F, 0, 0, 2, 1, 3, 5, 2);    /* 47 more, step 2 */
    OP(&s, K_COMMIT, 0);
    OP(&s, K_BEGIN, 1, RO, 0);
    OP(&s, K_BEGIN, 0, RW, 0);
    OP(&s, K_TXN_BULK, SLOT0, 2, 0x07, 0x7F, 0, 10, 1, 0);            /* 1919 deletes */
    OP(&s, K_COMMIT, 0);
    OP(&s, K_TXN_SCAN, SLOT1, 1, 0, 0, 1);
    OP(&s, K_TXN_GET, SLOT1, 0, 9, 1, 2);
    OP(&s, K_BEGIN, 0, RW, 0);
    OP(&s, K_TXN_BULK, SLOT0, 0, 0x07, 0x7F, 0, 0, 3, 0, 3, 9, 2);
    OP(&s, K_COMMIT, 0);
    for (int i = 0; i < 3; i++)
        OP(&s, K_ITER_NEXT, 0, 0);
    OP(&s, K_COMMIT, 1);
    write_seed("scenario-bulk", &s);

    /* key encoding, run id text, names */
    memset(&s, 0, sizeof s);
    OP(&s, K_KEYS, 0, 0, 1, 0, 1, 3, 0, 2, 1, 2, 3, 11, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5);
    OP(&s, K_KEYS, 0, 4, 5, 0, 0, 11, 4, 1, 12, 0);
    OP(&s, K_KEYS, 1, 9, 0, 5, 0);
    OP(&s, K_KEYS, 1, 2, 0, 0, 3);
    OP(&s, K_KEYS, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 0, 0);
    OP(&s, K_KEYS, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 2, 8, 'x');
    OP(&s, K_KEYS, 3, 2);
    OP(&s, K_KEYS, 3, 200);
    OP(&s, K_KEYS, 4, 2, 6);
    write_seed("scenario-keys", &s);

    /* database calls, cairn_db_run, the clock and expiry */
    memset(&s, 0, sizeof s);
    setup(&s);
    for (uint8_t i = 0; i < 7; i++)
        OP(&s, K_DB_MISC, i, 0);
    OP(&s, K_DB_RUN, 0, 0, 3, 0, 4, 0, 0);
    OP(&s, K_DB_RUN, 0, 1, 3, 0, 4, 2, 0);
    OP(&s, K_DB_RUN, 0, 1, 3, 0, 4, 3, 3);
    OP(&s, K_CLOCK, 1);
    call(&s, args_of(K_KV_GET_MANY), IMPLICIT);
    OP(&s, K_KV_SWEEP, IMPLICIT, 0, 0);
    OP(&s, K_TXN_PUT_EXPIRING, SLOT0, 1, 9, 2, 3);
    write_seed("scenario-db", &s);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    snprintf(g_out, sizeof g_out, "%s", argv[1]);
    if (mkdir(g_out, 0755) != 0 && errno != EEXIST) {
        perror(g_out);
        return 1;
    }
    seed s = {{0}, 0};
    setup(&s);
    write_seed("setup", &s);
    for (size_t i = 0; i < sizeof g_args / sizeof g_args[0]; i++)
        kind_seed(&g_args[i]);
    scenarios();
    printf("%d seeds in %s\n", g_count, g_out);
    return 0;
}
