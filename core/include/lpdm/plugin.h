/* SPDX-License-Identifier: MIT */
/*
** lpdm/plugin.h -- the head every lpdm plugin descriptor starts with.
**
** A plugin is one C file (or one folder) compiled to one shared object. It
** exports exactly one function, named after the file:
** plugins/distances/euclidean.c exports
**
**     const lpdm_plugin *lpdm_plugin_euclidean(void);
**
** returning a pointer to a `static const` descriptor of its kind (see
** distance.h, loss.h, layer.h, env.h, algo.h), written with designated
** initializers:
**
**     static const lpdm_distance_kind kind = {
**         .head = LPDM_PLUGIN_HEAD(LPDM_KIND_DISTANCE, "distance.x", "doc", keys),
**         .pairwise = pairwise,
**         .vjp = vjp,
**     };
**
** No constructors, no globals, no exit()/abort(), no lua.h.
**
** The loader refuses a descriptor whose abi_major differs from the host's,
** whose abi_minor is newer, whose fingerprint differs, whose kind is unknown,
** whose required callbacks are NULL, or whose name is already registered.
**
** THE LAYOUT RULES. A minor version only appends optional fields at the end
** of a descriptor (or of lpdm_algo_setup); the host reads such a field only
** from a plugin built for at least that minor, through a named gate below
** (LPDM_ABI_MINOR_*, tested with lpdm_abi_has). Anything else -- a field
** inserted or removed, a shared struct that changes size -- is a new major.
** The fingerprint catches what the version numbers cannot: a plugin built
** with other C type sizes, or against headers with other LPDM_MAX_* sizes.
*/
#ifndef LPDM_PLUGIN_H
#define LPDM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI history. 1.1: env and algo save/load (checkpoints); 1.2: layer
   save/load, row-blocked distances and losses, algo local_loss; 1.3: algo
   distributed and setup.comm (data-parallel runs).
   2.0: lpdm_config holds LPDM_MAX_KEYS = 128 keys (was 48) and records a
   read of an undeclared key; the fingerprint is 64 bits and covers the
   LPDM_MAX_* sizes; an algorithm's iterate fills an lpdm_figures (names
   copied, any number) instead of the fixed lpdm_stats. Every field of 1.3
   is part of 2.0, so 2.0's gates are all minor 0; a plugin built for 1.x
   is refused by its major (rebuild it: an algorithm's iterate takes
   lpdm_figures and sets with lpdm_figures_set; other kinds need no
   change).
   2.1: a distance's pairwise_upper/vjp_upper and a loss's eval_upper (the
   local update over the upper triangle of its symmetric matrices).
   2.2: an env's render_rgb (an RGB image of the current state) and an
   algorithm's export_policy (what acting needs, as a policy file).
   2.3: a loss's rule (the loss names a learning rule the algorithms build,
   layer-wise local heads or feedback alignment, instead of distance
   matching; its eval may then be NULL). */
#define LPDM_ABI_MAJOR 2
#define LPDM_ABI_MINOR 3

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

/* ------------------------------------------------------- shared sizes */

/* The sizes that shape structs shared between the host and its plugins.
   They are all here, and all in the fingerprint: a plugin built against
   headers with another value is refused by name ("LPDM_MAX_KEYS 48 vs
   128"), never run with a struct of the wrong size. Each must fit its
   field of the fingerprint (checked below). */
#define LPDM_STRLEN 64     /* lpdm_value.str: a string key's value, with its NUL         */
#define LPDM_MAX_KEYS 128  /* lpdm_config.v: keys one plugin may declare                  */
#define LPDM_MAX_PARAMS 8  /* lpdm_layer.params: tensors of one layer (layer.h)           */
#define LPDM_LOSS_ACC 32   /* doubles of a loss's eval_rows accumulator (loss.h)          */

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
   keys by name; plugins read it with lpdm_cfg_* (below).

   A read of a key the plugin did not declare (or of a string key as a
   number, or a number as a string) is a bug, and it is loud: the accessor
   returns a poison value (NaN, 0, "") and records the key in `bad`; the
   host checks the record after every callback it hands the config to
   (create, init, reset, step, forward, eval, ...) and fails that call with
   "<plugin>: read config key '<key>', which it does not declare (declared:
   ...)". So a plugin cannot read an undeclared key and carry on.
   lpdm_config_check (lpdm.h) is that check, for hosts that call a
   callback themselves. `bad` is the one part of a config an accessor
   writes, through the const pointer it is given: define configs as plain
   (non-const) objects, as lpdm_config_init's callers do. */
typedef struct lpdm_config_bad {
  int n;                   /* bad reads so far (0: none)                       */
  int why;                 /* 1: undeclared key; 2: a number read as a string;
                              3: a string read as a number                     */
  char key[LPDM_STRLEN];   /* the first bad read's key (cut to fit)            */
} lpdm_config_bad;

typedef struct lpdm_config {
  const lpdm_key *keys; /* borrowed from the descriptor */
  int n;
  lpdm_config_bad bad;  /* written by lpdm_cfg_* on a bad read only */
  lpdm_value v[LPDM_MAX_KEYS];
} lpdm_config;

/* ---------------------------------------------------------------- head */

/* The fingerprint: catches a plugin built for the same version with other
   C type sizes (a 32-bit build, another long) or against headers with
   other shared sizes. Fields, low bits first (the loader names each one
   that differs):
     bits  0..23  sizeof void *, size_t, int, long, double, float (4 bits each)
     bits 24..31  LPDM_STRLEN          bits 32..43  LPDM_MAX_KEYS
     bits 44..47  LPDM_MAX_PARAMS      bits 48..55  0 (reserved: an iteration's
                                       figures are not a fixed struct since 2.0)
     bits 56..63  LPDM_LOSS_ACC
   LPDM_FINGERPRINT_OF packs given values (a test builds a plugin "with
   another size" with it); LPDM_FINGERPRINT is this build's. */
#define LPDM_FINGERPRINT_OF(strlen_, keys_, params_, acc_)                                                   \
  ((uint64_t)sizeof(void *) | ((uint64_t)sizeof(size_t) << 4) | ((uint64_t)sizeof(int) << 8) |                \
   ((uint64_t)sizeof(long) << 12) | ((uint64_t)sizeof(double) << 16) | ((uint64_t)sizeof(float) << 20) |      \
   ((uint64_t)(strlen_) << 24) | ((uint64_t)(keys_) << 32) | ((uint64_t)(params_) << 44) |                    \
   ((uint64_t)(acc_) << 56))
#define LPDM_FINGERPRINT \
  LPDM_FINGERPRINT_OF(LPDM_STRLEN, LPDM_MAX_KEYS, LPDM_MAX_PARAMS, LPDM_LOSS_ACC)
#if LPDM_STRLEN > 0xff || LPDM_MAX_KEYS > 0xfff || LPDM_MAX_PARAMS > 0xf || LPDM_LOSS_ACC > 0xff
#error "an LPDM_MAX_* size outgrew its field of LPDM_FINGERPRINT: widen the field (a new ABI major)"
#endif

typedef struct lpdm_plugin {
  uint16_t abi_major;   /* LPDM_ABI_MAJOR at build time           */
  uint16_t abi_minor;   /* LPDM_ABI_MINOR at build time           */
  uint64_t fingerprint; /* LPDM_FINGERPRINT at build time         */
  int kind;             /* lpdm_kind                              */
  const char *name;     /* dotted, e.g. "distance.euclidean"      */
  const char *doc;      /* one line for listings                  */
  const lpdm_key *keys; /* config keys, {NULL}-terminated, or NULL */
} lpdm_plugin;

#define LPDM_PLUGIN_HEAD(kind_, name_, doc_, keys_)                                                       \
  {                                                                                                       \
    .abi_major = LPDM_ABI_MAJOR, .abi_minor = LPDM_ABI_MINOR, .fingerprint = LPDM_FINGERPRINT,             \
    .kind = (kind_), .name = (name_), .doc = (doc_), .keys = (keys_)                                       \
  }

/* ---------------------------------------------------------------- gates */

/* The minor version of this major from which the host reads each optional
   field appended after the major's first release. Under 2.0 every field
   is part of the first release (minor 0); a field that 2.1 appends gets its
   gate here with value 1, and the host reads it only when
   lpdm_abi_has(&kind->head, LPDM_ABI_MINOR_<FIELD>). */
#define LPDM_ABI_MINOR_ENV_SAVE 0        /* lpdm_env_kind.save/load           (1.1 in ABI 1) */
#define LPDM_ABI_MINOR_ALGO_SAVE 0       /* lpdm_algo_kind.save/load          (1.1 in ABI 1) */
#define LPDM_ABI_MINOR_LAYER_SAVE 0      /* lpdm_layer_kind.save/load         (1.2 in ABI 1) */
#define LPDM_ABI_MINOR_ROWS 0            /* distance *_rows, loss row_passes/eval_rows (1.2) */
#define LPDM_ABI_MINOR_ALGO_LOCAL_LOSS 0 /* lpdm_algo_kind.local_loss         (1.2 in ABI 1) */
#define LPDM_ABI_MINOR_ALGO_COMM 0       /* lpdm_algo_kind.distributed, setup.comm    (1.3) */
#define LPDM_ABI_MINOR_UPPER 1           /* distance pairwise_upper/vjp_upper, loss eval_upper (2.1) */
#define LPDM_ABI_MINOR_RENDER_RGB 2      /* lpdm_env_kind.render_rgb                  (2.2) */
#define LPDM_ABI_MINOR_ALGO_POLICY 2     /* lpdm_algo_kind.export_policy              (2.2) */
#define LPDM_ABI_MINOR_RULE 3            /* lpdm_loss_kind.rule                       (2.3) */

/* 1 when a plugin built as head says has the fields of that minor (the
   loader has already refused another major and a newer minor). */
static inline int lpdm_abi_has(const struct lpdm_plugin *head, int minor) { return head->abi_minor >= minor; }

/* The context a callback reports into (defined by the host, opaque here).
   A failing callback returns a negative status after lpdm_error(). */
typedef struct lpdm_ctx lpdm_ctx;

/* A set of named tensors (safetensors; lpdm.h has its functions), through
   which envs and algorithms save and restore their state. */
typedef struct lpdm_st lpdm_st;

/* Records a formatted message in ctx and returns code (so a callback can
   write `return lpdm_error(ctx, LPDM_ERR_ARG, "...")`). Exported by liblpdm. */
int lpdm_error(lpdm_ctx *ctx, int code, const char *fmt, ...) LPDM_PRINTF(3, 4);

/* Config accessors by key name (exported by liblpdm). The key must be one
   the plugin declared, of a matching type (num/int/bool read NUMBER, INT
   and BOOL keys; str reads STRING keys): any other read returns NaN, 0, 0
   or "" and records the key in cfg->bad, and the host fails the callback
   with a message naming the plugin and the key (see lpdm_config). */
double lpdm_cfg_num(const lpdm_config *cfg, const char *key);
int lpdm_cfg_int(const lpdm_config *cfg, const char *key);
int lpdm_cfg_bool(const lpdm_config *cfg, const char *key);
const char *lpdm_cfg_str(const lpdm_config *cfg, const char *key);

#ifdef __cplusplus
}
#endif
#endif
