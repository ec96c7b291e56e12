/* test_daemon.c -- the command line every daemon shares (a stray word is
 * an error, not the end of the options) and SIGHUP's reload: applied when
 * the new settings are valid, nothing changed when they are not. */
#include "daemon.h"
#include "log.h"
#include "test.h"

#include "../../uploader/config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Sends stdout and stderr to /dev/null (the usage texts are not the
 * test's output); returns what restore needs. */
static int quiet(void)
{
    int saved = dup(STDOUT_FILENO);
    int null = open("/dev/null", O_WRONLY);

    fflush(stdout);
    dup2(STDERR_FILENO, saved + 1 < 64 ? 64 : saved + 1);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    close(null);
    return saved;
}

static void restore(int saved)
{
    fflush(stdout);
    fflush(stderr);
    dup2(saved, STDOUT_FILENO);
    dup2(saved + 1 < 64 ? 64 : saved + 1, STDERR_FILENO);
    close(saved);
    close(saved + 1 < 64 ? 64 : saved + 1);
}

static void daemon_args_table(void)
{
    static const struct {
        const char *argv[4];
        int rc; /* -1: go on */
        int check_config;
        const char *config;
    } cases[] = {
        {{"d"}, -1, 0, NULL},
        {{"d", "--check-config"}, -1, 1, NULL},
        {{"d", "--config", "/x.cfg", "--check-config"}, -1, 1, "/x.cfg"},
        {{"d", "--config=/y.cfg"}, -1, 0, "/y.cfg"},
        {{"d", "foo", "--check-config"}, 2, 0, NULL},
        {{"d", "--check-config", "foo"}, 2, 1, NULL},
        {{"d", "replay"}, 2, 0, NULL},
        {{"d", "--bogus"}, 2, 0, NULL},
        {{"d", "-"}, 2, 0, NULL},
        {{"d", "--version"}, 0, 0, NULL},
        {{"d", "--help", "foo"}, 0, 0, NULL},
    };
    int rcs[sizeof(cases) / sizeof(cases[0])];
    daemon_opts opts[sizeof(cases) / sizeof(cases[0])];
    int saved;

    unsetenv("MILLRACE_CONFIG");
    saved = quiet();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[5] = {0};
        int argc = 0;

        while (argc < 4 && cases[i].argv[argc]) {
            argv[argc] = (char *)cases[i].argv[argc];
            argc++;
        }
        rcs[i] =
            daemon_parse_args(argc, argv, "d", "A daemon.", NULL, &opts[i]);
    }
    restore(saved);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (rcs[i] != cases[i].rc)
            TEST_FAIL_("case %zu (%s): rc %d, want %d", i,
                       cases[i].argv[1] ? cases[i].argv[1] : "", rcs[i],
                       cases[i].rc);
        if (rcs[i] != -1)
            continue;
        ASSERT_EQ(opts[i].check_config, cases[i].check_config);
        if (cases[i].config)
            ASSERT_STR_EQ(opts[i].config_path, cases[i].config);
        else
            ASSERT(opts[i].config_path == NULL);
    }
}

/* A reload spec over the uploader's table, reading the file at path. */
typedef struct reload_fx {
    uploader_config live;
    cfg_table t;
    daemon_opts o;
    daemon_reload_spec spec;
    char path[64];
    int applied;
} reload_fx;

static const char *count_apply(const void *fresh, void *arg)
{
    const uploader_config *c = fresh;
    reload_fx *f = arg;

    f->applied = (int)c->uploader.workers;
    return "counted";
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int fx_start(reload_fx *f, const char *text)
{
    cfg_errors e = {0};
    int fd;

    memset(f, 0, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "/tmp/millrace-reload-XXXXXX");
    fd = mkstemp(f->path);
    if (fd < 0)
        return -1;
    close(fd);
    write_file(f->path, text);
    uploader_config_table(&f->t, &f->live);
    f->o.config_path = f->path;
    if (cfg_load(&f->t, f->path, NULL, &e) != 0) {
        cfg_errors_free(&e);
        return -1;
    }
    f->spec.live = &f->t;
    f->spec.base_size = sizeof(f->live);
    f->spec.opts = &f->o;
    f->spec.log_offset = offsetof(uploader_config, log);
    f->spec.apply = count_apply;
    f->spec.arg = f;
    return 0;
}

static void fx_done(reload_fx *f)
{
    cfg_free(&f->t);
    unlink(f->path);
    log_set_level_name("info");
    log_set_format_name("text");
}

static void daemon_reload_applies_log_settings_and_calls_apply(void)
{
    reload_fx f;

    ASSERT_EQ(fx_start(&f, "store = 1;\n") == 0, 0); /* unknown: error */
    fx_done(&f);
    ASSERT_EQ(fx_start(&f, "log: { level = \"error\"; };\n"
                           "uploader: { store = \"local\"; workers = 2; };\n"),
              0);
    ASSERT_STR_EQ(log_level_name(), "info");
    write_file(f.path, "log: { level = \"debug\"; format = \"json\"; };\n"
                       "uploader: { store = \"local\"; workers = 5; };\n");
    log_set_level_name("error"); /* quiet: the reload logs */
    ASSERT_EQ(daemon_reload_now(&f.spec), 0);
    ASSERT_STR_EQ(log_level_name(), "debug");
    ASSERT_STR_EQ(log_format_name(), "json");
    ASSERT_EQ(f.applied, 5);
    /* the running settings are never changed by a reload */
    ASSERT_EQ(f.live.uploader.workers, 2);
    ASSERT_EQ(f.live.log.level, LOG_ERROR);
    fx_done(&f);
}

static void daemon_reload_refuses_invalid_settings_whole(void)
{
    reload_fx f;

    ASSERT_EQ(fx_start(&f, "uploader: { store = \"local\"; };\n"), 0);
    log_set_level_name("error");
    write_file(f.path, "log: { level = \"debug\"; };\n"
                       "uploader: { store = \"local\"; workers = 0; };\n");
    ASSERT_EQ(daemon_reload_now(&f.spec), -1);
    ASSERT_STR_EQ(log_level_name(), "error");
    ASSERT_EQ(f.applied, 0);
    write_file(f.path, "log: { level = ; };\n"); /* syntax */
    ASSERT_EQ(daemon_reload_now(&f.spec), -1);
    ASSERT_STR_EQ(log_level_name(), "error");
    unlink(f.path); /* a file that is gone */
    ASSERT_EQ(daemon_reload_now(&f.spec), -1);
    ASSERT_STR_EQ(log_level_name(), "error");
    fx_done(&f);
}

TEST_MAIN(T(daemon_args_table),
          T(daemon_reload_applies_log_settings_and_calls_apply),
          T(daemon_reload_refuses_invalid_settings_whole))
