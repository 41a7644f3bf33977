/* Web chat page tests: Debian's chromium, driven by playwright-core (tests/web/web.test.mjs),
 * against real `beanbag serve` processes of the built-in demo model and of a random-weight
 * fixture. Screenshots land in web-test/ of the build folder. SKIPs, saying why, without
 * node, chromium or the npm package. */
#include <sys/stat.h>
#include <unistd.h>

#include "fixture_model.h"
#include "testutil.h"

/* The browser: $BB_CHROMIUM, else Debian's chromium. */
static const char *find_chromium(void) {
    const char *env = getenv("BB_CHROMIUM");
    if (env && env[0]) return env;
    static const char *const paths[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0) return paths[i];
    return NULL;
}

int main(void) {
    const char *bin = getenv("BB_BIN"), *src = getenv("BB_SRC");
    if (!bin || !src) {
        printf("SKIP: web page tests (BB_BIN or BB_SRC not set)\n");
        return tu_finish("test_web");
    }
    if (system("node --version > /dev/null 2>&1") != 0) {
        printf("SKIP: web page tests (node is not installed)\n");
        return tu_finish("test_web");
    }
    const char *browser = find_chromium();
    if (!browser) {
        printf("SKIP: web page tests (chromium is not installed: apt-get install chromium, or "
               "set BB_CHROMIUM)\n");
        return tu_finish("test_web");
    }
    char dir[1024], cmd[4096];
    snprintf(dir, sizeof dir, "%s/tests/web", src);
    snprintf(cmd, sizeof cmd, "%s/node_modules/playwright-core/package.json", dir);
    struct stat st;
    if (stat(cmd, &st) != 0) {
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && npm install --no-audit --no-fund --loglevel=error > /dev/null 2>&1",
                 dir);
        if (system(cmd) != 0) {
            printf("SKIP: web page tests (npm could not install playwright-core)\n");
            return tu_finish("test_web");
        }
    }
    /* A fixture with a long training context: its answers run until Stop. */
    char model[] = "/tmp/bb_test_web_XXXXXX";
    int fd = mkstemp(model);
    if (fd >= 0) close(fd);
    bb_error err = {0};
    fixture_model_params fp = fixture_model_default();
    fp.n_layer = 4; /* slow enough (and long enough) that Stop comes seconds before the end */
    fp.n_ctx_train = 8192;
    CHECKF(fd >= 0 && fixture_model_write(&fp, model, &err) == BB_OK, "fixture: %s", err.message);
    char cwd[1024];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "/tmp");
    snprintf(cmd, sizeof cmd,
             "cd '%s' && BB_BIN='%s' BB_CHROMIUM='%s' BB_FIXTURE='%s' BB_FIXTURE_STOP_IDS=%d,%d "
             "BB_ARTIFACTS='%s/web-test' node web.test.mjs",
             dir, bin, browser, model, (int)FIXTURE_EOS, (int)FIXTURE_IM_END, cwd);
    int rc = system(cmd);
    CHECKF(rc == 0, "web page tests failed (status %d)", rc);
    unlink(model);
    return tu_finish("test_web");
}
