/*
 * cmd_runs.c - `cairn runs DIR`: a table of the registered runs, optionally
 * only those in one status and/or carrying one tag.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define RUNS_PAGE 500u

void cmd_runs_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn runs DIR [--status S] [--tag T] [--json]\n"
            "\n"
            "Opens the database in DIR read-only and lists its runs in creation order:\n"
            "id, name, status, parent run, creation time (UTC) and tags.\n"
            "\n"
            "options:\n"
            "  --status S    only runs in status S: active, paused, completed, failed,\n"
            "                cancelled or archived\n"
            "  --tag T       only runs carrying tag T\n"
            "  --json        print JSON Lines: one object per run\n"
            "  --page N      runs read per query (1..%u, default %u)\n"
            "  -h, --help    show this help\n"
            "\n"
            "exit status: 0 done, 1 the engine reported an error, 2 usage error,\n"
            "             3 the database could not be opened\n",
            CAIRN_RUN_LIMIT_MAX, RUNS_PAGE);
}

static void runs_print_text(const cairn_run_view *r)
{
    char id[CAIRN_RUN_ID_TEXT_LEN + 1], parent[CAIRN_RUN_ID_TEXT_LEN + 1], when[40];
    char *name = NULL, *tags = NULL;
    size_t name_len = 0, tags_len = 0;
    FILE *f;

    cairn_run_id_format(&r->id, id);
    if (r->has_parent)
        cairn_run_id_format(&r->parent, parent);
    else
        snprintf(parent, sizeof parent, "-");
    f = open_memstream(&name, &name_len);
    if (f != NULL) {
        if (r->name.len > 0)
            cli_text_payload(f, r->name);
        else
            fputc('-', f);
        fclose(f);
    }
    f = open_memstream(&tags, &tags_len);
    if (f != NULL) {
        if (r->ntags == 0)
            fputc('-', f);
        for (size_t i = 0; i < r->ntags; i++) {
            if (i > 0)
                fputc(',', f);
            cli_text_payload(f, r->tags[i]);
        }
        fclose(f);
    }
    printf("%-36s  %-16s  %-9s  %-36s  %-27s  %s\n", id, name != NULL ? name : "?",
           cairn_run_status_name(r->status), parent, cli_time(r->created_us, when, sizeof when),
           tags != NULL ? tags : "?");
    free(name);
    free(tags);
}

static void runs_print_json(const cairn_run_view *r)
{
    char id[CAIRN_RUN_ID_TEXT_LEN + 1];

    cairn_run_id_format(&r->id, id);
    printf("{\"id\":\"%s\",", id);
    cli_json_payload(stdout, "name", r->name);
    printf(",\"status\":\"%s\",\"parent\":", cairn_run_status_name(r->status));
    if (r->has_parent) {
        cairn_run_id_format(&r->parent, id);
        printf("\"%s\"", id);
    } else {
        printf("null");
    }
    printf(",\"created_us\":%" PRId64 ",\"updated_us\":%" PRId64 ",\"finished_us\":%" PRId64
           ",\"tags\":[",
           r->created_us, r->updated_us, r->finished_us);
    for (size_t i = 0; i < r->ntags; i++) {
        if (i > 0)
            fputc(',', stdout);
        if (cli_utf8_valid(r->tags[i]))
            cli_json_slice(stdout, r->tags[i]);
        else {
            printf("\"base64:");
            cli_base64(stdout, r->tags[i]);
            printf("\"");
        }
    }
    printf("]");
    if (r->error.len > 0) {
        printf(",");
        cli_json_payload(stdout, "error", r->error);
    }
    printf("}\n");
}

/* Parses a run status by name; 0 when unknown. */
static int runs_parse_status(const char *text)
{
    for (int i = 1; i <= CAIRN_RUN_STATUS_COUNT; i++) {
        if (strcmp(text, cairn_run_status_name((cairn_run_status)i)) == 0)
            return i;
    }
    return 0;
}

int cmd_runs(int argc, char **argv)
{
    const char *dir = NULL, *status_text = NULL, *tag = NULL, *page_text = NULL;
    uint64_t page = RUNS_PAGE;
    bool json = false;
    int status = 0;
    cairn_run_list list = {0};
    cairn_run_cursor after = {0};
    uint64_t shown = 0;
    cairn_db *db = NULL;
    cairn_status s;
    int rc;

    for (int i = 1; i < argc; i++) {
        int r;

        if (cli_is_help(argv[i])) {
            cmd_runs_usage(stdout);
            return CLI_EXIT_OK;
        }
        if ((r = cli_take_value(argc, argv, &i, "runs", "--status", &status_text)) != 0 ||
            (r = cli_take_value(argc, argv, &i, "runs", "--tag", &tag)) != 0 ||
            (r = cli_take_value(argc, argv, &i, "runs", "--page", &page_text)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' || dir != NULL) {
            return cli_usage_error("runs", "unexpected argument '%s'", argv[i]);
        } else {
            dir = argv[i];
        }
    }
    if (dir == NULL)
        return cli_usage_error("runs", "expected a database directory");
    if (status_text != NULL && (status = runs_parse_status(status_text)) == 0)
        return cli_usage_error("runs", "--status: '%s' is not a run status", status_text);
    if (page_text != NULL &&
        !cli_parse_u64("runs", "--page", page_text, 1, CAIRN_RUN_LIMIT_MAX, &page))
        return CLI_EXIT_USAGE;
    if (tag != NULL && (tag[0] == '\0' || strlen(tag) > CAIRN_RUN_TAG_MAX))
        return cli_usage_error("runs", "--tag: a tag has 1..%u bytes", CAIRN_RUN_TAG_MAX);

    rc = cli_open("runs", dir, true, CAIRN_DURABILITY_DEFAULT, &db);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!json)
        printf("%-36s  %-16s  %-9s  %-36s  %-27s  %s\n", "ID", "NAME", "STATUS", "PARENT",
               "CREATED", "TAGS");
    for (;;) {
        const cairn_run_cursor *cur = after.set ? &after : NULL;
        cairn_slice tag_slice = cairn_slice_of(tag, tag != NULL ? strlen(tag) : 0);

        if (status != 0 && tag != NULL)
            s = cairn_run_by_status_tag(db, (cairn_run_status)status, tag_slice, cur, (size_t)page,
                                        &list);
        else if (status != 0)
            s = cairn_run_by_status(db, (cairn_run_status)status, cur, (size_t)page, &list);
        else if (tag != NULL)
            s = cairn_run_by_tag(db, tag_slice, cur, (size_t)page, &list);
        else
            s = cairn_run_list_all(db, cur, (size_t)page, &list);
        if (s != CAIRN_OK)
            return cli_engine_error("runs", db, s);
        for (size_t i = 0; i < list.n; i++) {
            if (json)
                runs_print_json(&list.items[i]);
            else
                runs_print_text(&list.items[i]);
        }
        shown += list.n;
        after = list.next;
        if (!list.more)
            break;
        cairn_run_list_free(&list);
    }
    cairn_run_list_free(&list);
    if (!json)
        printf("%" PRIu64 " run%s\n", shown, shown == 1 ? "" : "s");
    return cairn_db_close(db) == CAIRN_OK ? CLI_EXIT_OK : CLI_EXIT_PROBLEM;
}
