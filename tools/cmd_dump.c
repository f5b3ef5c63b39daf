/*
 * cmd_dump.c - `cairn dump DIR --run ID`: what one run holds, as readable
 * lines or JSON Lines: its KV pairs, events, state cells and traces (flat,
 * or as indented trees).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define DUMP_PAGE 1000u
#define DUMP_TREE_DEPTH 100000u
#define DUMP_TREE_NODES 10000000u

enum {
    DUMP_KV = 1,
    DUMP_EVENTS = 2,
    DUMP_CELLS = 4,
    DUMP_TRACES = 8,
    DUMP_TREE = 16,
    DUMP_ALL = 31,
};

typedef struct dump_ctx {
    cairn_db *db;
    cairn_run_id run;
    char id[CAIRN_RUN_ID_TEXT_LEN + 1];
    bool json;
} dump_ctx;

void cmd_dump_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn dump DIR --run ID [--kv] [--events] [--cells] [--traces] [--tree]\n"
            "                  [--json]\n"
            "\n"
            "Opens the database in DIR read-only and prints what run ID holds, one item a\n"
            "line: the run itself, then the sections asked for (all of them when none is).\n"
            "Payloads, keys and values are printed as text when they are valid UTF-8,\n"
            "otherwise in base64 (prefixed \"base64:\" in text; in JSON a member\n"
            "NAME_encoding says \"utf8\" or \"base64\").\n"
            "\n"
            "options:\n"
            "  --run ID      the run to dump (required)\n"
            "  --kv          its KV pairs, in key order\n"
            "  --events      its events, in order, with their hashes\n"
            "  --cells       its state cells, with their versions\n"
            "  --traces      its traces, in time order\n"
            "  --tree        its traces as trees: each root, its descendants indented\n"
            "  --json        print JSON Lines: one object per item, with a \"kind\"\n"
            "  -h, --help    show this help\n"
            "\n"
            "exit status: 0 done, 1 no such run or the engine reported an error,\n"
            "             2 usage error, 3 the database could not be opened\n");
}

static void dump_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static void dump_json_head(const dump_ctx *d, const char *kind)
{
    printf("{\"kind\":\"%s\",\"run\":\"%s\"", kind, d->id);
}

static void dump_run(const dump_ctx *d, const cairn_run_view *r)
{
    char when[40], parent[CAIRN_RUN_ID_TEXT_LEN + 1] = "-";

    if (r->has_parent)
        cairn_run_id_format(&r->parent, parent);
    if (d->json) {
        dump_json_head(d, "run");
        printf(",");
        cli_json_payload(stdout, "name", r->name);
        printf(",\"status\":\"%s\",\"parent\":", cairn_run_status_name(r->status));
        if (r->has_parent)
            printf("\"%s\"", parent);
        else
            printf("null");
        printf(",\"created_us\":%" PRId64 ",\"tags\":[", r->created_us);
        for (size_t i = 0; i < r->ntags; i++) {
            printf("%s{", i > 0 ? "," : "");
            cli_json_payload(stdout, "tag", r->tags[i]);
            printf("}");
        }
        printf("],");
        cli_json_payload(stdout, "metadata", r->metadata);
        printf(",");
        cli_json_payload(stdout, "error", r->error);
        printf("}\n");
        return;
    }
    printf("run %s status %s parent %s created %s name ", d->id, cairn_run_status_name(r->status),
           parent, cli_time(r->created_us, when, sizeof when));
    if (r->name.len > 0)
        cli_text_payload(stdout, r->name);
    else
        printf("-");
    printf(" tags ");
    if (r->ntags == 0)
        printf("-");
    for (size_t i = 0; i < r->ntags; i++) {
        if (i > 0)
            printf(",");
        cli_text_payload(stdout, r->tags[i]);
    }
    if (r->error.len > 0) {
        printf(" error ");
        cli_text_payload(stdout, r->error);
    }
    printf("\n");
}

static cairn_status dump_kv(const dump_ctx *d)
{
    cairn_kv_list list = {0};
    cairn_status s;

    do {
        cairn_kv_list page = {0};

        s = cairn_kv_list_pairs(d->db, &d->run, cairn_slice_of(NULL, 0), list.cursor, DUMP_PAGE,
                                &page);
        cairn_kv_list_free(&list);
        list = page;
        if (s != CAIRN_OK)
            break;
        for (size_t i = 0; i < list.n; i++) {
            if (d->json) {
                dump_json_head(d, "kv");
                printf(",");
                cli_json_payload(stdout, "key", list.items[i].key);
                printf(",");
                cli_json_payload(stdout, "value", list.items[i].value);
                printf("}\n");
            } else {
                printf("kv ");
                cli_text_payload(stdout, list.items[i].key);
                printf(" = ");
                cli_text_payload(stdout, list.items[i].value);
                printf("\n");
            }
        }
    } while (list.more);
    cairn_kv_list_free(&list);
    return s;
}

static cairn_status dump_events(const dump_ctx *d)
{
    cairn_txn_options opts;
    cairn_txn *txn = NULL;
    cairn_event_iter *it = NULL;
    cairn_event_view ev;
    char when[40];
    cairn_status s;

    cairn_txn_options_init(&opts);
    opts.mode = CAIRN_TXN_READ_ONLY;
    s = cairn_txn_begin(d->db, &opts, &txn);
    if (s != CAIRN_OK)
        return s;
    s = cairn_event_iter_range(txn, &d->run, 0, UINT64_MAX, &it);
    while (s == CAIRN_OK && (s = cairn_event_iter_next(it, &ev)) == CAIRN_OK) {
        if (d->json) {
            dump_json_head(d, "event");
            printf(",\"seq\":%" PRIu64 ",\"timestamp_us\":%" PRId64 ",", ev.seq,
                   ev.timestamp_us);
            cli_json_payload(stdout, "type", ev.type);
            printf(",");
            cli_json_payload(stdout, "payload", ev.payload);
            printf(",\"prev_hash\":\"");
            dump_hex(ev.prev_hash, sizeof ev.prev_hash);
            printf("\",\"hash\":\"");
            dump_hex(ev.hash, sizeof ev.hash);
            printf("\"}\n");
        } else {
            printf("event %" PRIu64 " %s ", ev.seq, cli_time(ev.timestamp_us, when, sizeof when));
            cli_text_payload(stdout, ev.type);
            printf(" ");
            cli_text_payload(stdout, ev.payload);
            printf(" hash ");
            dump_hex(ev.hash, 8);
            printf("\n");
        }
    }
    if (s == CAIRN_DONE)
        s = CAIRN_OK;
    cairn_event_iter_free(it);
    cairn_txn_abort(txn);
    cairn_txn_free(txn);
    return s;
}

static cairn_status dump_cells(const dump_ctx *d)
{
    cairn_cell_list list = {0};
    cairn_status s;

    do {
        cairn_cell_list page = {0};

        s = cairn_cell_list_names(d->db, &d->run, cairn_slice_of(NULL, 0), list.cursor,
                                  DUMP_PAGE, &page);
        cairn_cell_list_free(&list);
        list = page;
        for (size_t i = 0; s == CAIRN_OK && i < list.n; i++) {
            cairn_cell cell = {0};
            char when[40];

            s = cairn_cell_read(d->db, &d->run, list.names[i], &cell);
            if (s == CAIRN_NOT_FOUND) { /* deleted since it was listed */
                s = CAIRN_OK;
                continue;
            }
            if (s != CAIRN_OK)
                break;
            if (d->json) {
                dump_json_head(d, "cell");
                printf(",");
                cli_json_payload(stdout, "name", list.names[i]);
                printf(",\"version\":%" PRIu64 ",\"updated_us\":%" PRId64 ",", cell.version,
                       cell.updated_at_us);
                cli_json_payload(stdout, "value", cairn_bytes_slice(&cell.value));
                printf("}\n");
            } else {
                printf("cell ");
                cli_text_payload(stdout, list.names[i]);
                printf(" v%" PRIu64 " %s = ", cell.version,
                       cli_time(cell.updated_at_us, when, sizeof when));
                cli_text_payload(stdout, cairn_bytes_slice(&cell.value));
                printf("\n");
            }
            cairn_bytes_free(&cell.value);
        }
    } while (s == CAIRN_OK && list.more);
    cairn_cell_list_free(&list);
    return s;
}

/* One trace: `kind` "trace" or "tree"; `depth` indents it in text. */
static void dump_trace(const dump_ctx *d, const char *kind, const cairn_trace_view *t,
                       uint32_t depth)
{
    char start[40], end[40];

    if (d->json) {
        dump_json_head(d, kind);
        printf(",");
        cli_json_payload(stdout, "id", t->id);
        printf(",");
        cli_json_payload(stdout, "parent_id", t->parent_id);
        if (strcmp(kind, "tree") == 0)
            printf(",\"depth\":%" PRIu32, depth);
        printf(",\"type\":\"%s\",\"status\":\"%s\",", cairn_trace_type_name(t->type),
               cairn_trace_status_name(t->status));
        cli_json_payload(stdout, "name", t->name);
        printf(",\"start_us\":%" PRId64 ",\"end_us\":%" PRId64 ",\"tags\":[", t->start_us,
               t->end_us);
        for (size_t i = 0; i < t->ntags; i++) {
            printf("%s{", i > 0 ? "," : "");
            cli_json_payload(stdout, "tag", t->tags[i]);
            printf("}");
        }
        printf("],");
        cli_json_payload(stdout, "payload", t->payload);
        printf("}\n");
        return;
    }
    printf("%s ", kind);
    for (uint32_t i = 0; i < depth; i++)
        printf("  ");
    cli_text_payload(stdout, t->id);
    printf(" %s %s ", cairn_trace_type_name(t->type), cairn_trace_status_name(t->status));
    if (t->name.len > 0)
        cli_text_payload(stdout, t->name);
    else
        printf("-");
    printf(" %s..%s", cli_time(t->start_us, start, sizeof start),
           cli_time(t->end_us, end, sizeof end));
    if (strcmp(kind, "trace") == 0) {
        printf(" parent ");
        if (t->parent_id.len > 0)
            cli_text_payload(stdout, t->parent_id);
        else
            printf("-");
    }
    printf(" ");
    cli_text_payload(stdout, t->payload);
    printf("\n");
}

static cairn_status dump_traces(const dump_ctx *d, bool tree)
{
    cairn_trace_list list = {0};
    cairn_trace_cursor after = {0};
    cairn_status s;

    for (;;) {
        const cairn_trace_cursor *cur = after.set ? &after : NULL;

        if (tree)
            s = cairn_trace_roots(d->db, &d->run, cur, DUMP_PAGE, &list);
        else
            s = cairn_trace_by_time(d->db, &d->run, 0, INT64_MAX, cur, DUMP_PAGE, &list);
        for (size_t i = 0; s == CAIRN_OK && i < list.n; i++) {
            cairn_trace_tree t = {0};

            if (!tree) {
                dump_trace(d, "trace", &list.items[i], 0);
                continue;
            }
            s = cairn_trace_get_tree(d->db, &d->run, list.items[i].id, DUMP_TREE_DEPTH,
                                     DUMP_TREE_NODES, &t);
            if (s != CAIRN_OK)
                break;
            /* nodes are breadth first: print them depth first, each after its parent. */
            for (size_t n = 0; n < t.n; n++) {
                if (t.parent[n] != SIZE_MAX)
                    continue;
                dump_trace(d, "tree", &t.nodes[n], 0);
            }
            if (t.n > 1) {
                /* Walk down from the root with an explicit stack of node indexes. */
                size_t *stack = calloc(t.n, sizeof *stack);
                size_t top = 0;

                if (stack == NULL) {
                    cairn_trace_tree_free(&t);
                    s = CAIRN_NO_MEMORY;
                    break;
                }
                for (size_t n = t.n; n-- > 1;)
                    if (t.parent[n] == 0)
                        stack[top++] = n;
                while (top > 0) {
                    size_t n = stack[--top];

                    dump_trace(d, "tree", &t.nodes[n], t.depth[n]);
                    for (size_t c = t.n; c-- > n + 1;)
                        if (t.parent[c] == n)
                            stack[top++] = c;
                }
                free(stack);
            }
            cairn_trace_tree_free(&t);
        }
        after = list.next;
        if (s != CAIRN_OK || !list.more)
            break;
        cairn_trace_list_free(&list);
    }
    cairn_trace_list_free(&list);
    return s;
}

int cmd_dump(int argc, char **argv)
{
    const char *dir = NULL, *run_text = NULL;
    unsigned what = 0;
    dump_ctx d = {0};
    cairn_run run = {0};
    cairn_status s;
    int rc;

    for (int i = 1; i < argc; i++) {
        int r;

        if (cli_is_help(argv[i])) {
            cmd_dump_usage(stdout);
            return CLI_EXIT_OK;
        }
        if ((r = cli_take_value(argc, argv, &i, "dump", "--run", &run_text)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
        } else if (strcmp(argv[i], "--kv") == 0) {
            what |= DUMP_KV;
        } else if (strcmp(argv[i], "--events") == 0) {
            what |= DUMP_EVENTS;
        } else if (strcmp(argv[i], "--cells") == 0) {
            what |= DUMP_CELLS;
        } else if (strcmp(argv[i], "--traces") == 0) {
            what |= DUMP_TRACES;
        } else if (strcmp(argv[i], "--tree") == 0) {
            what |= DUMP_TREE;
        } else if (strcmp(argv[i], "--json") == 0) {
            d.json = true;
        } else if (argv[i][0] == '-' || dir != NULL) {
            return cli_usage_error("dump", "unexpected argument '%s'", argv[i]);
        } else {
            dir = argv[i];
        }
    }
    if (dir == NULL)
        return cli_usage_error("dump", "expected a database directory");
    if (run_text == NULL)
        return cli_usage_error("dump", "expected --run ID");
    if (cairn_run_id_parse(run_text, strlen(run_text), &d.run) != CAIRN_OK)
        return cli_usage_error("dump", "--run: '%s' is not a run id", run_text);
    if (what == 0)
        what = DUMP_ALL;
    cairn_run_id_format(&d.run, d.id);

    rc = cli_open("dump", dir, true, CAIRN_DURABILITY_DEFAULT, &d.db);
    if (rc != CLI_EXIT_OK)
        return rc;
    s = cairn_run_get(d.db, &d.run, &run);
    if (s == CAIRN_NOT_FOUND) {
        fprintf(stderr, "cairn dump: no run %s in %s\n", d.id, dir);
        cairn_db_close(d.db);
        return CLI_EXIT_PROBLEM;
    }
    if (s == CAIRN_OK) {
        dump_run(&d, &run.v);
        cairn_run_free(&run);
    }
    if (s == CAIRN_OK && (what & DUMP_KV))
        s = dump_kv(&d);
    if (s == CAIRN_OK && (what & DUMP_EVENTS))
        s = dump_events(&d);
    if (s == CAIRN_OK && (what & DUMP_CELLS))
        s = dump_cells(&d);
    if (s == CAIRN_OK && (what & DUMP_TRACES))
        s = dump_traces(&d, false);
    if (s == CAIRN_OK && (what & DUMP_TREE))
        s = dump_traces(&d, true);
    if (s != CAIRN_OK)
        return cli_engine_error("dump", d.db, s);
    return cairn_db_close(d.db) == CAIRN_OK ? CLI_EXIT_OK : CLI_EXIT_PROBLEM;
}
