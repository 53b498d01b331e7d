/* SPDX-License-Identifier: MIT */
/*
** plugin.c -- the plugin registry and the shared-object loader.
**
** WHAT
**   Every lpdm_ctx owns a registry: a growable array of entries (descriptor,
**   origin, dlopen handle) in ctx->entries. Plugins come into it two ways:
**     lpdm_plugin_register(ctx, p, origin)  a descriptor already in memory
**     lpdm_plugin_load(ctx, path)           one shared object
**   and lpdm_plugin_load_dir / lpdm_plugin_load_default load many at once.
**   There is no global registry: two contexts never see each other's plugins,
**   and lpdm_ctx_free() dlcloses what its context opened (dlopen counts
**   references, so a file loaded by two contexts stays mapped until both are
**   freed).
**
** HOW A FILE IS LOADED
**   1. The entry name comes from the file name: directory and ".so" removed,
**      "lpdm_plugin_" prefixed (plugins/euclidean.so -> lpdm_plugin_euclidean).
**      The base must be a C identifier, else the file is refused before it is
**      opened. A path without a '/' is taken relative to the working
**      directory (never searched for in the system library path).
**   2. dlopen(path, RTLD_NOW | RTLD_LOCAL): every symbol is bound now (an
**      unresolved one fails here, not in the middle of training) and the
**      plugin's symbols stay private to it. A failure (missing file, a text
**      file, a wrong architecture) reports the path and dlerror().
**   3. dlsym the entry. It must be defined by the file itself: a plugin
**      called "load.so" would otherwise find liblpdm's own lpdm_plugin_load
**      through its dependencies and call it as an entry.
**   4. Call the entry; it returns a pointer to a static const descriptor.
**      NULL is refused.
**   5. The checks below (the same as for lpdm_plugin_register), with the
**      path as origin.
**   On any failure the handle is dlclosed, the registry is left exactly as
**   it was, and the message (lpdm_ctx_message) names the file and the
**   reason; the status is negative (LPDM_ERR_IO for files that cannot be
**   opened or have no entry, LPDM_ERR_ARG for a refused descriptor).
**
** THE CHECKS (lpdm_plugin_register and every load)
**   - abi_major == LPDM_ABI_MAJOR. Under another major nothing after the
**     two version fields is known to be laid out as here, so that message
**     names the file and both versions but does not read the name.
**   - abi_minor <= LPDM_ABI_MINOR (an older minor is fine: minors only add
**     optional fields at the end of descriptors, read through the gates
**     LPDM_ABI_MINOR_* of plugin.h).
**   - fingerprint == LPDM_FINGERPRINT (both shown in hex, with each field
**     that differs: a C type size, or an LPDM_MAX_* size of plugin.h).
**   - kind is one of distance, loss, layer, env, algo.
**   - name is non-NULL and reads "<kind>.<short>" with a non-empty short
**     part ("distance.euclidean"; a distance named "loss.x" is refused).
**   - every required callback of the kind is set:
**       distance: pairwise, vjp        loss: eval
**       layer: init, forward, free     env: create, reset, step, free
**       algo: create, iterate, free
**   - the config key list (if any) has at most LPDM_MAX_KEYS keys before
**     its {NULL} terminator, each key of a known type, no key twice, and
**     every default parses as its type.
**   - the full name is not registered yet (the message names both origins).
**
** FINDING
**   lpdm_plugin_find(ctx, kind, name) matches the full name or the short
**   name (after the first dot); kind 0 means any kind, first registered
**   first. lpdm_plugin_get does the same and, when nothing matches, leaves
**   "unknown env 'CartPol-v1' (known: CartPole-v1, ...)" in the context.
**   lpdm_plugin_at(ctx, kind, i) walks one kind in registration order;
**   lpdm_plugin_origin is NULL for a descriptor not registered in ctx;
**   lpdm_kind_name of an unknown kind is "unknown".
**
** DIRECTORIES
**   lpdm_plugin_load_dir(ctx, dir) loads every regular file (symlinks
**   followed) whose name ends in ".so", in strcmp order of the names, and
**   stops at the first failure, whose message names that file -- except
**   for a file that has no entry function named after it at all: a shared
**   object that is not an lpdm plugin (a library someone put there) is
**   skipped, and lpdm_ctx_notes names it and why (the Lua binding prints
**   the notes to stderr). A file that has its entry but is broken in any
**   other way still stops loading: it claims to be a plugin. Loading one
**   file by name (lpdm_plugin_load) refuses a missing entry. It is all or
**   nothing: on failure the plugins it had loaded are unloaded again, so a
**   fixed directory can simply be loaded again. A missing or unreadable dir
**   is an error naming it.
**
**   lpdm_plugin_load_default(ctx) loads, all or nothing:
**     1. each directory of $LPDM_PLUGIN_PATH (colon-separated, empty entries
**        skipped); a listed directory that does not exist is an error naming
**        it;
**     2. the built-in directory: the first that exists of
**          <dir of liblpdm>/lpdm/plugins   (install tree, relocatable)
**          <dir of liblpdm>/plugins        (build tree: build/liblpdm.so
**                                           beside build/plugins/)
**          LPDM_INSTALL_PLUGIN_DIR         (the configured install prefix)
**        where the directory of liblpdm is found with dladdr() on an address
**        inside liblpdm (symlinks resolved).
**   A directory met twice (same real path) is loaded once. No built-in
**   directory is not an error by itself when LPDM_PLUGIN_PATH gave plugins;
**   loading nothing at all is ("no plugins found; looked in ...").
**
**   LPDM_PLUGIN_PATH is for ADDITIONAL plugins, not for overriding built-in
**   ones: a plugin whose name is also in the built-in directory is a
**   duplicate, reported as an error naming both files. To try a modified
**   built-in plugin, give it another name (a new file, a new "kind.name").
*/
#define _GNU_SOURCE /* dladdr, dlinfo (glibc) */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define ENTRY_PREFIX "lpdm_plugin_"

static const char *const kind_names[] = {NULL, "distance", "loss", "layer", "env", "algo"};
#define NKINDS 5

const char *lpdm_kind_name(int kind) {
  return kind >= 1 && kind <= NKINDS ? kind_names[kind] : "unknown";
}

/* "distance", ... or "plugin" for kind 0 (any), for messages. */
static const char *kind_word(int kind) { return kind == 0 ? "plugin" : lpdm_kind_name(kind); }

static const char *origin_or(const char *origin) { return origin ? origin : "<memory>"; }

const char *lpdm_plugin_short(const lpdm_plugin *p) {
  if (!p || !p->name) return "";
  const char *dot = strchr(p->name, '.');
  return dot ? dot + 1 : p->name;
}

/* ------------------------------------------------------------ registry */

static int find_index(const lpdm_ctx *ctx, int kind, const char *name) {
  if (!ctx || !name) return -1;
  /* Full names first, so "x.y" never loses to a plugin whose short name is
     "x.y" (a short name may itself contain dots). */
  for (int i = 0; i < ctx->nentries; i++) {
    const lpdm_plugin *p = ctx->entries[i].p;
    if ((kind == 0 || p->kind == kind) && strcmp(p->name, name) == 0) return i;
  }
  for (int i = 0; i < ctx->nentries; i++) {
    const lpdm_plugin *p = ctx->entries[i].p;
    if ((kind == 0 || p->kind == kind) && strcmp(lpdm_plugin_short(p), name) == 0) return i;
  }
  return -1;
}

const lpdm_plugin *lpdm_plugin_find(const lpdm_ctx *ctx, int kind, const char *name) {
  int i = find_index(ctx, kind, name);
  return i < 0 ? NULL : ctx->entries[i].p;
}

const lpdm_plugin *lpdm_plugin_get(lpdm_ctx *ctx, int kind, const char *name) {
  const lpdm_plugin *p = lpdm_plugin_find(ctx, kind, name);
  if (p || !ctx) return p;
  char known[600];
  size_t len = 0;
  int n = 0;
  known[0] = '\0';
  for (int i = 0; i < ctx->nentries; i++) {
    const lpdm_plugin *q = ctx->entries[i].p;
    if (kind != 0 && q->kind != kind) continue;
    /* Short names when the kind is given, full names when any kind goes. */
    const char *shown = kind ? lpdm_plugin_short(q) : q->name;
    if (len + strlen(shown) + 8 >= sizeof known) {
      snprintf(known + len, sizeof known - len, ", ...");
      break;
    }
    len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", n ? ", " : "", shown);
    n++;
  }
  /* the closest name, when it looks like a typo of one */
  const char *near = NULL;
  const char **cands = ctx->nentries > 0 ? malloc((size_t)(unsigned)ctx->nentries * sizeof *cands) : NULL;
  if (cands) {
    int nc = 0;
    for (int i = 0; i < ctx->nentries; i++) {
      const lpdm_plugin *q = ctx->entries[i].p;
      if (kind == 0 || q->kind == kind) cands[nc++] = kind ? lpdm_plugin_short(q) : q->name;
    }
    near = lpdm__closest(name, cands, nc);
  }
  if (n == 0)
    lpdm_error(ctx, LPDM_ERR_ARG, "unknown %s '%s' (no %s plugins loaded)", kind_word(kind),
               name ? name : "(null)", kind ? lpdm_kind_name(kind) : "");
  else
    lpdm_error(ctx, LPDM_ERR_ARG, "unknown %s '%s'%s%s%s (known: %s)", kind_word(kind), name ? name : "(null)",
               near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "", known);
  free(cands);
  return NULL;
}

int lpdm_plugin_count(const lpdm_ctx *ctx, int kind) {
  if (!ctx) return 0;
  if (kind == 0) return ctx->nentries;
  int n = 0;
  for (int i = 0; i < ctx->nentries; i++)
    if (ctx->entries[i].p->kind == kind) n++;
  return n;
}

const lpdm_plugin *lpdm_plugin_at(const lpdm_ctx *ctx, int kind, int i) {
  if (!ctx || i < 0) return NULL;
  for (int j = 0; j < ctx->nentries; j++) {
    const lpdm_plugin *p = ctx->entries[j].p;
    if (kind != 0 && p->kind != kind) continue;
    if (i-- == 0) return p;
  }
  return NULL;
}

/* NULL when p is not registered in ctx. */
const char *lpdm_plugin_origin(const lpdm_ctx *ctx, const lpdm_plugin *p) {
  if (!ctx || !p) return NULL;
  for (int i = 0; i < ctx->nentries; i++)
    if (ctx->entries[i].p == p) return ctx->entries[i].origin;
  return NULL;
}

/* Drops entries [keep, nentries), newest first. */
static void truncate_registry(lpdm_ctx *ctx, int keep) {
  while (ctx->nentries > keep) {
    lpdm_entry *e = &ctx->entries[--ctx->nentries];
    free(e->origin);
    if (e->handle) dlclose(e->handle);
    memset(e, 0, sizeof *e);
  }
}

void lpdm__registry_free(lpdm_ctx *ctx) {
  if (!ctx) return;
  truncate_registry(ctx, 0);
  free(ctx->entries);
  ctx->entries = NULL;
  ctx->nentries = ctx->cap = 0;
}

/* ------------------------------------------------------------ checks */

/* Describes which fields differ between two fingerprints (plugin.h lists
   them): "sizeof(void *) 4 vs 8", "LPDM_MAX_KEYS 48 vs 128". */
static void fingerprint_diff(uint64_t got, uint64_t want, char *buf, size_t len) {
  static const struct {
    const char *what;
    int shift, bits;
  } f[] = {{"sizeof(void *)", 0, 4}, {"sizeof(size_t)", 4, 4}, {"sizeof(int)", 8, 4},
           {"sizeof(long)", 12, 4},  {"sizeof(double)", 16, 4}, {"sizeof(float)", 20, 4},
           {"LPDM_STRLEN", 24, 8},   {"LPDM_MAX_KEYS", 32, 12}, {"LPDM_MAX_PARAMS", 44, 4},
           {"LPDM_LOSS_ACC", 56, 8}};
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < sizeof f / sizeof f[0] && o < len; i++) {
    uint64_t mask = ((uint64_t)1 << f[i].bits) - 1u;
    uint64_t a = (got >> f[i].shift) & mask, b = (want >> f[i].shift) & mask;
    if (a != b)
      o += (size_t)snprintf(buf + o, len - o, "%s%s %u vs %u", o ? ", " : "", f[i].what, (unsigned)a, (unsigned)b);
  }
}

/* Fails naming `field` unless the required callback is present. */
static int need(lpdm_ctx *ctx, const char *origin, const lpdm_plugin *p, int present,
                const char *field) {
  if (present) return LPDM_OK;
  return lpdm_error(ctx, LPDM_ERR_ARG,
                    "%s: %s plugin '%s': required callback '%s' is NULL", origin,
                    lpdm_kind_name(p->kind), p->name, field);
}

static int check_callbacks(lpdm_ctx *ctx, const char *origin, const lpdm_plugin *p) {
  int rc = LPDM_OK;
  switch (p->kind) {
    case LPDM_KIND_DISTANCE: {
      const lpdm_distance_kind *k = (const lpdm_distance_kind *)p;
      if ((rc = need(ctx, origin, p, k->pairwise != NULL, "pairwise"))) return rc;
      rc = need(ctx, origin, p, k->vjp != NULL, "vjp");
      break;
    }
    case LPDM_KIND_LOSS: {
      const lpdm_loss_kind *k = (const lpdm_loss_kind *)p;
      const int rule = lpdm_abi_has(p, LPDM_ABI_MINOR_RULE) && k->rule;
      if (rule && !k->rule[0])
        return lpdm_error(ctx, LPDM_ERR_ARG, "%s: loss plugin '%s': its rule is an empty name", origin, p->name);
      rc = need(ctx, origin, p, rule || k->eval != NULL, "eval");
      break;
    }
    case LPDM_KIND_LAYER: {
      const lpdm_layer_kind *k = (const lpdm_layer_kind *)p;
      if ((rc = need(ctx, origin, p, k->init != NULL, "init"))) return rc;
      if ((rc = need(ctx, origin, p, k->forward != NULL, "forward"))) return rc;
      rc = need(ctx, origin, p, k->free != NULL, "free");
      break;
    }
    case LPDM_KIND_ENV: {
      const lpdm_env_kind *k = (const lpdm_env_kind *)p;
      if ((rc = need(ctx, origin, p, k->create != NULL, "create"))) return rc;
      if ((rc = need(ctx, origin, p, k->reset != NULL, "reset"))) return rc;
      if ((rc = need(ctx, origin, p, k->step != NULL, "step"))) return rc;
      if ((rc = need(ctx, origin, p, k->free != NULL, "free"))) return rc;
      /* render_info is required of an env that has render_rgb */
      if (lpdm_abi_has(p, LPDM_ABI_MINOR_RENDER_RGB) && k->render_rgb)
        rc = need(ctx, origin, p, k->render_info != NULL, "render_info");
      break;
    }
    case LPDM_KIND_ALGO: {
      const lpdm_algo_kind *k = (const lpdm_algo_kind *)p;
      if ((rc = need(ctx, origin, p, k->create != NULL, "create"))) return rc;
      if ((rc = need(ctx, origin, p, k->iterate != NULL, "iterate"))) return rc;
      rc = need(ctx, origin, p, k->free != NULL, "free");
      break;
    }
  }
  return rc;
}

static int check_keys(lpdm_ctx *ctx, const char *origin, const lpdm_plugin *p) {
  if (!p->keys) return LPDM_OK;
  int n = 0;
  /* Bounded walk: a list without its {NULL} terminator must not run off. */
  while (n <= LPDM_MAX_KEYS && p->keys[n].name) n++;
  if (n > LPDM_MAX_KEYS)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "%s: plugin '%s' declares more than %d config keys "
                      "(or its key list lacks the {NULL} terminator)",
                      origin, p->name, LPDM_MAX_KEYS);
  for (int i = 0; i < n; i++) {
    const lpdm_key *k = &p->keys[i];
    if (!k->name[0])
      return lpdm_error(ctx, LPDM_ERR_ARG, "%s: plugin '%s': config key #%d has an empty name",
                        origin, p->name, i + 1);
    if (k->type < LPDM_T_NUMBER || k->type > LPDM_T_STRING)
      return lpdm_error(ctx, LPDM_ERR_ARG,
                        "%s: plugin '%s': config key '%s' has unknown type %d "
                        "(known: 1 number, 2 integer, 3 boolean, 4 string)",
                        origin, p->name, k->name, (int)k->type);
    for (int j = 0; j < i; j++)
      if (strcmp(p->keys[j].name, k->name) == 0)
        return lpdm_error(ctx, LPDM_ERR_ARG, "%s: plugin '%s': config key '%s' is listed twice",
                          origin, p->name, k->name);
  }
  /* Every default must parse as its type (ctx.c does the parsing). */
  lpdm_config *cfg = malloc(sizeof *cfg);
  if (!cfg) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  int rc = lpdm_config_init(ctx, p, cfg);
  free(cfg);
  if (rc) return lpdm_ctx_prefix(ctx, rc, "%s", origin);
  return LPDM_OK;
}

static int check_plugin(lpdm_ctx *ctx, const lpdm_plugin *p, const char *origin) {
  if (p->abi_major != LPDM_ABI_MAJOR)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "%s: plugin built for lpdm ABI %u.%u, this lpdm is %d.%d "
                      "(major versions differ; rebuild the plugin against this lpdm)",
                      origin, (unsigned)p->abi_major, (unsigned)p->abi_minor, LPDM_ABI_MAJOR,
                      LPDM_ABI_MINOR);
  const char *name = p->name ? p->name : "(null)";
  if (p->abi_minor > LPDM_ABI_MINOR)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "%s: plugin '%s' built for lpdm ABI %u.%u, newer minor than this lpdm "
                      "(%d.%d); update lpdm or rebuild the plugin",
                      origin, name, (unsigned)p->abi_major, (unsigned)p->abi_minor,
                      LPDM_ABI_MAJOR, LPDM_ABI_MINOR);
  if (p->fingerprint != LPDM_FINGERPRINT) {
    char diff[400];
    fingerprint_diff(p->fingerprint, LPDM_FINGERPRINT, diff, sizeof diff);
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "%s: plugin '%s' has fingerprint 0x%016llx, this lpdm has 0x%016llx "
                      "(%s, plugin vs lpdm; rebuild the plugin with this lpdm's headers and compiler settings)",
                      origin, name, (unsigned long long)p->fingerprint, (unsigned long long)LPDM_FINGERPRINT,
                      diff[0] ? diff : "no field differs");
  }
  if (p->kind < 1 || p->kind > NKINDS)
    return lpdm_error(ctx, LPDM_ERR_ARG,
                      "%s: plugin '%s' has unknown kind %d "
                      "(known: 1 distance, 2 loss, 3 layer, 4 env, 5 algo)",
                      origin, name, p->kind);
  const char *kn = lpdm_kind_name(p->kind);
  if (!p->name || !p->name[0])
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: %s plugin has %s name (expected '%s.<name>')",
                      origin, kn, p->name ? "an empty" : "a NULL", kn);
  size_t kl = strlen(kn);
  if (strncmp(p->name, kn, kl) != 0 || p->name[kl] != '.' || p->name[kl + 1] == '\0')
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: %s plugin named '%s', expected '%s.<name>'", origin,
                      kn, p->name, kn);
  int rc = check_callbacks(ctx, origin, p);
  if (rc) return rc;
  rc = check_keys(ctx, origin, p);
  if (rc) return rc;
  int dup = find_index(ctx, 0, p->name);
  if (dup >= 0 && strcmp(ctx->entries[dup].p->name, p->name) == 0)
    return lpdm_error(ctx, LPDM_ERR_ARG, "%s: plugin '%s' already registered from %s", origin,
                      p->name, ctx->entries[dup].origin);
  return LPDM_OK;
}

/* Checks p and appends it; the entry takes handle only on success. */
static int add_entry(lpdm_ctx *ctx, const lpdm_plugin *p, const char *origin, void *handle) {
  int rc = check_plugin(ctx, p, origin);
  if (rc) return rc;
  if (ctx->nentries == ctx->cap) {
    int ncap = ctx->cap ? 2 * ctx->cap : 16;
    lpdm_entry *ne = realloc(ctx->entries, (size_t)ncap * sizeof *ne);
    if (!ne) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory registering", origin);
    ctx->entries = ne;
    ctx->cap = ncap;
  }
  char *o = strdup(origin);
  if (!o) return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory registering", origin);
  ctx->entries[ctx->nentries].p = p;
  ctx->entries[ctx->nentries].origin = o;
  ctx->entries[ctx->nentries].handle = handle;
  ctx->nentries++;
  return LPDM_OK;
}

int lpdm_plugin_register(lpdm_ctx *ctx, const lpdm_plugin *p, const char *origin) {
  if (!ctx) return LPDM_ERR_ARG;
  origin = origin_or(origin);
  if (!p) return lpdm_error(ctx, LPDM_ERR_ARG, "%s: NULL plugin descriptor", origin);
  return add_entry(ctx, p, origin, NULL);
}

/* ------------------------------------------------------------ loading */

/* Writes lpdm_plugin_<base> for path into sym; fails with a message when
   the base is not a C identifier. */
static int entry_name(lpdm_ctx *ctx, const char *path, char *sym, size_t len) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strlen(base);
  if (n > 3 && strcmp(base + n - 3, ".so") == 0) n -= 3;
  int okid = n > 0 && !(base[0] >= '0' && base[0] <= '9');
  for (size_t i = 0; i < n && okid; i++) {
    char c = base[i];
    okid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }
  if (!okid)
    return lpdm_error(ctx, LPDM_ERR_IO,
                      "cannot load plugin '%s': file name '%.*s' is not a C identifier, so it "
                      "names no entry function lpdm_plugin_<name> (use letters, digits, '_')",
                      path, (int)n, base);
  if (sizeof ENTRY_PREFIX + n > len)
    return lpdm_error(ctx, LPDM_ERR_IO, "cannot load plugin '%s': file name too long", path);
  snprintf(sym, len, "%s%.*s", ENTRY_PREFIX, (int)n, base);
  return LPDM_OK;
}

/* NULL when addr lies in the object `handle` opened; else the file name of
   the object it lies in (a dependency, such as liblpdm itself). */
static const char *defined_elsewhere(void *handle, const void *addr) {
#if defined(__GLIBC__) || defined(RTLD_DI_LINKMAP) /* an enum in glibc, a macro elsewhere */
  struct link_map *lm = NULL;
  Dl_info a, b;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_ld) return NULL;
  if (!dladdr(addr, &a) || !dladdr((const void *)lm->l_ld, &b)) return NULL;
  if (a.dli_fbase == b.dli_fbase) return NULL;
  return a.dli_fname && a.dli_fname[0] ? a.dli_fname : "another library";
#else
  (void)handle;
  (void)addr;
  return NULL;
#endif
}

typedef const lpdm_plugin *(*entry_fn)(void);

/* lpdm_plugin_load; in_dir: the file was found in a plugin directory,
   where a shared object without the entry function its name calls for is
   not a plugin (some other library) and is skipped with a note. */
static int load_file(lpdm_ctx *ctx, const char *path, int in_dir);

int lpdm_plugin_load(lpdm_ctx *ctx, const char *path) { return load_file(ctx, path, 0); }

static int load_file(lpdm_ctx *ctx, const char *path, int in_dir) {
  if (!ctx) return LPDM_ERR_ARG;
  if (!path || !*path) return lpdm_error(ctx, LPDM_ERR_ARG, "cannot load plugin: empty path");
  char sym[256];
  int rc = entry_name(ctx, path, sym, sizeof sym);
  if (rc) return rc;

  /* dlopen searches the library path for a name without '/': a plugin
     path is a file path, so make it one. */
  char local[PATH_MAX + 2];
  const char *open_path = path;
  if (!strchr(path, '/')) {
    if (strlen(path) + 3 > sizeof local)
      return lpdm_error(ctx, LPDM_ERR_IO, "cannot load plugin '%s': path too long", path);
    snprintf(local, sizeof local, "./%s", path);
    open_path = local;
  }

  dlerror();
  void *h = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    return lpdm_error(ctx, LPDM_ERR_IO, "cannot load plugin '%s': %s",
                      path, why ? why : "unknown dlopen error");
  }
  dlerror();
  void *addr = dlsym(h, sym);
  if (!addr && in_dir) {
    dlclose(h);
    if (ctx->nnotes < sizeof ctx->notes - 1) {
      int w = snprintf(ctx->notes + ctx->nnotes, sizeof ctx->notes - ctx->nnotes,
                       "skipped '%s': not an lpdm plugin (no entry function %s())\n", path, sym);
      if (w > 0) ctx->nnotes += (size_t)w < sizeof ctx->notes - ctx->nnotes ? (size_t)w : sizeof ctx->notes - ctx->nnotes - 1;
    }
    return LPDM_OK;
  }
  if (!addr) {
    dlclose(h);
    return lpdm_error(ctx, LPDM_ERR_IO,
                      "cannot load plugin '%s': no entry function %s() in it (a plugin "
                      "exports one function named after its file)",
                      path, sym);
  }
  const char *other = defined_elsewhere(h, addr);
  if (other) {
    char where[PATH_MAX];
    snprintf(where, sizeof where, "%s", other); /* before dlclose unmaps it */
    dlclose(h);
    return lpdm_error(ctx, LPDM_ERR_IO,
                      "cannot load plugin '%s': no entry function %s() in it (that name "
                      "belongs to %s, which it links; rename the plugin: file and entry)",
                      path, sym, where);
  }
  entry_fn entry;
  memcpy(&entry, &addr, sizeof entry); /* POSIX: object -> function pointer */
  const lpdm_plugin *p = entry();
  if (!p) {
    dlclose(h);
    return lpdm_error(ctx, LPDM_ERR_ARG, "cannot load plugin '%s': %s() returned NULL", path,
                      sym);
  }
  rc = add_entry(ctx, p, path, h);
  if (rc) dlclose(h);
  return rc;
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* load_dir without the rollback: leaves what it loaded on failure. */
static int load_dir_raw(lpdm_ctx *ctx, const char *dir) {
  if (!dir || !*dir) return lpdm_error(ctx, LPDM_ERR_ARG, "cannot load plugins: empty directory name");
  DIR *d = opendir(dir);
  if (!d)
    return lpdm_error(ctx, LPDM_ERR_IO, "cannot open plugin directory '%s': %s", dir,
                      strerror(errno));
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = LPDM_OK;
  char path[PATH_MAX];
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t len = strlen(de->d_name);
    if (len <= 3 || strcmp(de->d_name + len - 3, ".so") != 0) continue;
    if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) {
      rc = lpdm_error(ctx, LPDM_ERR_IO, "plugin path too long: '%s/%s'", dir, de->d_name);
      break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (n == cap) {
      size_t ncap = cap ? 2 * cap : 32;
      char **nn = realloc(names, ncap * sizeof *nn);
      if (!nn) {
        rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory listing '%s'", dir);
        break;
      }
      names = nn;
      cap = ncap;
    }
    if (!(names[n] = strdup(de->d_name))) {
      rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory listing '%s'", dir);
      break;
    }
    n++;
  }
  closedir(d);
  if (rc == LPDM_OK && n > 1) qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n && rc == LPDM_OK; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    rc = load_file(ctx, path, 1);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return rc;
}

int lpdm_plugin_load_dir(lpdm_ctx *ctx, const char *dir) {
  if (!ctx) return LPDM_ERR_ARG;
  int keep = ctx->nentries;
  int rc = load_dir_raw(ctx, dir);
  if (rc) truncate_registry(ctx, keep);
  return rc;
}

/* The directory holding liblpdm (symlinks resolved), or 0. */
static int lib_dir(char *buf, size_t len) {
  static const char anchor = 0;
  Dl_info info;
  if (!dladdr((const void *)&anchor, &info) || !info.dli_fname || !info.dli_fname[0]) return 0;
  char real[PATH_MAX];
  const char *file = realpath(info.dli_fname, real) ? real : info.dli_fname;
  const char *slash = strrchr(file, '/');
  if (!slash) return snprintf(buf, len, ".") < (int)len;
  size_t n = (size_t)(slash - file);
  if (n == 0) n = 1; /* "/liblpdm.so" */
  if (n >= len) return 0;
  memcpy(buf, file, n);
  buf[n] = '\0';
  return 1;
}

/* Directories already loaded by one load_default call, by real path. */
typedef struct seen_dirs {
  char *path[64];
  int n;
} seen_dirs;

/* 1 if dir was seen (and records it otherwise). */
static int seen_before(seen_dirs *s, const char *dir) {
  char real[PATH_MAX];
  const char *key = realpath(dir, real) ? real : dir;
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->path[i], key) == 0) return 1;
  if (s->n < (int)(sizeof s->path / sizeof s->path[0])) {
    char *c = strdup(key);
    if (c) s->path[s->n++] = c;
  }
  return 0;
}

static int load_default_raw(lpdm_ctx *ctx, seen_dirs *seen, char *looked, size_t llen) {
  size_t lo = 0;
  int before = ctx->nentries, rc;
  const char *env = getenv("LPDM_PLUGIN_PATH");
  if (env && *env) {
    char *copy = strdup(env);
    if (!copy) return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
    rc = LPDM_OK;
    for (char *s = copy, *next; s && rc == LPDM_OK; s = next) {
      next = strchr(s, ':');
      if (next) *next++ = '\0';
      if (!*s) continue;
      if (!is_dir(s)) {
        rc = lpdm_error(ctx, LPDM_ERR_IO,
                        "LPDM_PLUGIN_PATH lists '%s', which is not an existing directory", s);
        break;
      }
      if (seen_before(seen, s)) continue;
      rc = load_dir_raw(ctx, s);
      if (rc) lpdm_ctx_prefix(ctx, rc, "LPDM_PLUGIN_PATH directory '%s'", s);
    }
    free(copy);
    if (rc) return rc;
    lo += (size_t)snprintf(looked + lo, llen - lo, "LPDM_PLUGIN_PATH='%s'", env);
  } else {
    lo += (size_t)snprintf(looked + lo, llen - lo, "LPDM_PLUGIN_PATH (unset)");
  }

  char cand[3][PATH_MAX];
  int nc = 0, found = 0;
  char lib[PATH_MAX];
  if (lib_dir(lib, sizeof lib)) {
    if (snprintf(cand[nc], PATH_MAX, "%s/lpdm/plugins", lib) < PATH_MAX) nc++;
    if (snprintf(cand[nc], PATH_MAX, "%s/plugins", lib) < PATH_MAX) nc++;
  }
#ifdef LPDM_INSTALL_PLUGIN_DIR
  snprintf(cand[nc++], PATH_MAX, "%s", LPDM_INSTALL_PLUGIN_DIR);
#endif
  for (int i = 0; i < nc; i++) {
    if (lo < llen) lo += (size_t)snprintf(looked + lo, llen - lo, ", %s", cand[i]);
    if (!is_dir(cand[i])) continue;
    found = 1;
    if (!seen_before(seen, cand[i])) {
      rc = load_dir_raw(ctx, cand[i]);
      if (rc && strstr(ctx->msg, "already registered")) {
        char m[LPDM_MSGLEN];
        memcpy(m, ctx->msg, sizeof m);
        return lpdm_error(ctx, rc,
                          "%s (LPDM_PLUGIN_PATH adds plugins, it cannot override built-in ones: "
                          "give yours another name)",
                          m);
      }
      if (rc) return rc;
    }
    break; /* the first built-in directory that exists is the one */
  }
  if (ctx->nentries == before)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s; looked in %s",
                      found ? "no plugins found" : "no plugin directory found", looked);
  return LPDM_OK;
}

int lpdm_plugin_load_default(lpdm_ctx *ctx) {
  if (!ctx) return LPDM_ERR_ARG;
  int keep = ctx->nentries;
  seen_dirs seen;
  seen.n = 0;
  char looked[3 * PATH_MAX + 256];
  int rc = load_default_raw(ctx, &seen, looked, sizeof looked);
  for (int i = 0; i < seen.n; i++) free(seen.path[i]);
  if (rc) truncate_registry(ctx, keep);
  return rc;
}
