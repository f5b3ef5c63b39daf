/*
 * test_tamper.c - a test helper: overwrites one stored event of a run with
 * bytes that are not an event, bypassing the EventLog, so the CLI tests can
 * check that `cairn verify` finds and locates the damage.
 *
 *   test_tamper DIR RUN_ID SEQ
 *
 * The key is the EventLog's record key: [run][event tag][0x01][seq:be64].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairn/cairn.h>

static cairn_status tamper(cairn_txn *txn, void *ctx)
{
    const cairn_key *key = ctx;
    static const char junk[] = "not an event";

    return cairn_txn_put(txn, key, cairn_slice_of(junk, sizeof junk - 1));
}

int main(int argc, char **argv)
{
    cairn_run_id run;
    cairn_key key;
    cairn_db *db = NULL;
    char errbuf[256] = "";
    cairn_status s;

    if (argc != 4 || cairn_run_id_parse(argv[2], strlen(argv[2]), &run) != CAIRN_OK) {
        fprintf(stderr, "usage: test_tamper DIR RUN_ID SEQ\n");
        return 2;
    }
    s = cairn_key_init(&key, &run, CAIRN_TAG_EVENT);
    if (s == CAIRN_OK)
        s = cairn_key_append_u8(&key, 0x01);
    if (s == CAIRN_OK)
        s = cairn_key_append_u64(&key, strtoull(argv[3], NULL, 10));
    if (s == CAIRN_OK)
        s = cairn_db_open(argv[1], NULL, &db, errbuf, sizeof errbuf);
    if (s == CAIRN_OK)
        s = cairn_db_run(db, NULL, tamper, &key, NULL);
    if (db != NULL && cairn_db_close(db) != CAIRN_OK && s == CAIRN_OK)
        s = CAIRN_IO;
    if (s != CAIRN_OK) {
        fprintf(stderr, "test_tamper: %s %s\n", cairn_status_name(s), errbuf);
        return 1;
    }
    return 0;
}
