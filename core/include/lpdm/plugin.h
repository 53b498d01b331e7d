/*
** lpdm/plugin.h -- the head every lpdm plugin descriptor starts with.
**
** A plugin is one C file compiled to one shared object. It exports exactly
** one function, named after the file:  plugins/distances/euclidean.c exports
**
**     const lpdm_plugin *lpdm_plugin_euclidean(void);
**
** returning a pointer to a `static const` descriptor of its kind (see
** distance.h, loss.h, layer.h, env.h, algo.h). The descriptor's first member
** is an lpdm_plugin head, filled with LPDM_PLUGIN_HEAD(kind, name, doc, keys).
** No constructors, no globals, no exit()/abort(), no lua.h.
**
** The loader refuses a descriptor whose abi_major differs from the host's,
** whose abi_minor is newer, whose fingerprint differs, whose kind is unknown,
** whose required callbacks are NULL, or whose name is already registered.
*/
#ifndef LPDM_PLUGIN_H
#define LPDM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: an algorithm's iterate fills an lpdm_figures (names copied, any number)
   instead of the fixed lpdm_stats struct, a changed signature, hence a new
   major. The minor numbering goes on from 1.3, so that every gate on a
   minor (>= 1: checkpoints, ...) keeps its meaning. */
#define LPDM_ABI_MAJOR 2
#define LPDM_ABI_MINOR 3 /* 1.1: env and algo state for checkpoints; 1.2: layer state, row-blocked distances and losses;
                            1.3: algo setup.comm (data-parallel runs); 2.3: lpdm_figures */

#if defined(__GNUC__)
#define LPDM_EXPORT __attribute__((visibility("default")))
#define LPDM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LPDM_EXPORT
#define LPDM_PRINTF(a, b)
#endif

/* LPDM_VECTORIZE before a function definition builds it three times (GCC's
   target_clones reads "avx2,fma" as two clones): for AVX2, for FMA and for
   the baseline, the loader picking one for the CPU; AVX2 CPUs run the AVX2
   clone, which fuses no multiply-add. Use it on hot loops that the compiler
   vectorises. Loops with float reductions may give other bits on a CPU
   without AVX2. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define LPDM_VECTORIZE __attribute__((target_clones("avx2,fma", "default")))
#else
#define LPDM_VECTORIZE
#endif

/* Kinds of plugin. */
typedef enum lpdm_kind {
  LPDM_KIND_DISTANCE = 1,
  LPDM_KIND_LOSS = 2,
  LPDM_KIND_LAYER = 3,
  LPDM_KIND_ENV = 4,
  LPDM_KIND_ALGO = 5
} lpdm_kind;

/* Status codes returned by every callback and host function. */
enum {
  LPDM_OK = 0,
  LPDM_ERR = -1,      /* generic failure, message in the context   */
  LPDM_ERR_ARG = -2,  /* bad argument / config / shape              */
  LPDM_ERR_NUM = -3,  /* NaN or Inf met in a loss, weight, gradient */
  LPDM_ERR_MEM = -4,  /* out of memory                              */
  LPDM_ERR_IO = -5    /* file or plugin loading                     */
};

/* ---------------------------------------------------------------- config */

/* The type of one config key. */
typedef enum lpdm_type {
  LPDM_T_NUMBER = 1, /* double                           */
  LPDM_T_INT = 2,    /* integer (stored in num, checked) */
  LPDM_T_BOOL = 3,   /* true/false                       */
  LPDM_T_STRING = 4  /* short string (< LPDM_STRLEN)     */
} lpdm_type;

#define LPDM_STRLEN 64
#define LPDM_MAX_KEYS 48

/* One config key a plugin declares: name, type, default (as text, parsed
   by the core: "0.5", "true", "tanh"), one line of documentation.
   The list ends with a {NULL} entry. */
typedef struct lpdm_key {
  const char *name;
  lpdm_type type;
  const char *def;
  const char *doc;
} lpdm_key;

/* A value; which member is meaningful depends on the key's type. */
typedef struct lpdm_value {
  double num;              /* NUMBER, INT, BOOL (0/1) */
  char str[LPDM_STRLEN];   /* STRING                  */
} lpdm_value;

/* A checked config: one value per key of the plugin, in the key order.
   The core builds it from defaults and user settings, rejecting unknown
   keys by name; plugins read it with lpdm_cfg_* (lpdm.h) or by index. */
typedef struct lpdm_config {
  const lpdm_key *keys; /* borrowed from the descriptor */
  int n;
  lpdm_value v[LPDM_MAX_KEYS];
} lpdm_config;

/* ---------------------------------------------------------------- head */

/* The type-size fingerprint: catches a plugin built for another ABI of
   the same version (other pointer, float or struct sizes). */
#define LPDM_FINGERPRINT                                                       \
  ((uint32_t)(sizeof(void *) | (sizeof(size_t) << 4) | (sizeof(int) << 8) |  \
              (sizeof(long) << 12) | (sizeof(double) << 16) |                  \
              (sizeof(float) << 20) | ((sizeof(lpdm_value) & 0xff) << 24)))

typedef struct lpdm_plugin {
  uint16_t abi_major;   /* LPDM_ABI_MAJOR at build time           */
  uint16_t abi_minor;   /* LPDM_ABI_MINOR at build time           */
  uint32_t fingerprint; /* LPDM_FINGERPRINT at build time         */
  int kind;             /* lpdm_kind                              */
  const char *name;     /* dotted, e.g. "distance.euclidean"      */
  const char *doc;      /* one line for listings                  */
  const lpdm_key *keys; /* config keys, {NULL}-terminated, or NULL */
} lpdm_plugin;

#define LPDM_PLUGIN_HEAD(kind_, name_, doc_, keys_)                            \
  { LPDM_ABI_MAJOR, LPDM_ABI_MINOR, LPDM_FINGERPRINT, (kind_), (name_), (doc_), \
    (keys_) }

/* The context a callback reports into (defined by the host, opaque here).
   A failing callback returns a negative status after lpdm_error(). */
typedef struct lpdm_ctx lpdm_ctx;

/* A set of named tensors (safetensors; lpdm.h has its functions), through
   which envs and algorithms save and restore their state. */
typedef struct lpdm_st lpdm_st;

/* Records a formatted message in ctx and returns code (so a callback can
   write `return lpdm_error(ctx, LPDM_ERR_ARG, "...")`). Exported by liblpdm. */
int lpdm_error(lpdm_ctx *ctx, int code, const char *fmt, ...) LPDM_PRINTF(3, 4);

/* Config accessors by key name (exported by liblpdm; the key must exist in
   the plugin's own list, or they return the fallback). */
double lpdm_cfg_num(const lpdm_config *cfg, const char *key);
int lpdm_cfg_int(const lpdm_config *cfg, const char *key);
int lpdm_cfg_bool(const lpdm_config *cfg, const char *key);
const char *lpdm_cfg_str(const lpdm_config *cfg, const char *key);

#ifdef __cplusplus
}
#endif
#endif
