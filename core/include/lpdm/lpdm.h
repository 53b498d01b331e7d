/* SPDX-License-Identifier: MIT */
/*
** lpdm.h -- the host API of liblpdm.
**
** Naming: lpdm_<class>_<verb>. Every function that can fail returns an int
** status (LPDM_OK == 0, negative on failure) and leaves a message in the
** lpdm_ctx it was given; read it with lpdm_ctx_message(). Nothing here
** calls exit() or abort(). There are no mutable globals: two contexts in
** one process do not interfere. Ownership is stated at each prototype;
** every *_free accepts NULL.
*/
#ifndef LPDM_H
#define LPDM_H

#include "plugin.h"
#include "distance.h"
#include "loss.h"
#include "layer.h"
#include "env.h"
#include "algo.h"
#include "stats.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LPDM_VERSION "0.3.0"

/* ------------------------------------------------------------ context */

/* A context: error message, plugin registry, loaded shared objects.
   Caller frees with lpdm_ctx_free (which unloads its plugins). */
lpdm_ctx *lpdm_ctx_new(void);
void lpdm_ctx_free(lpdm_ctx *ctx);
const char *lpdm_ctx_message(const lpdm_ctx *ctx); /* "" when none */
/* Notes that are not errors, one per line ("" when none): the files in a
   plugin directory that loading skipped as not plugins, and why. */
const char *lpdm_ctx_notes(const lpdm_ctx *ctx);
void lpdm_ctx_clear(lpdm_ctx *ctx);
/* Prefixes the current message with "what: " (for layered errors). */
int lpdm_ctx_prefix(lpdm_ctx *ctx, int code, const char *fmt, ...) LPDM_PRINTF(3, 4);

/* ------------------------------------------------------------ plugins */

/* Loads one shared object and registers its descriptor. Refuses (naming
   the file): not a shared object, no entry symbol lpdm_plugin_<basename>,
   other ABI major, newer minor, other fingerprint, unknown kind, NULL
   required callback, name already registered. */
int lpdm_plugin_load(lpdm_ctx *ctx, const char *path);
/* Loads every *.so in dir (sorted by name); stops at the first failure. */
int lpdm_plugin_load_dir(lpdm_ctx *ctx, const char *dir);
/* Loads the default set: each directory of $LPDM_PLUGIN_PATH, then the
   plugins/ folder beside liblpdm (build tree) or lib/lpdm/plugins (install). */
int lpdm_plugin_load_default(lpdm_ctx *ctx);
/* Registers a descriptor that is already in memory (static plugins, tests).
   origin names it in messages. Same checks as loading. */
int lpdm_plugin_register(lpdm_ctx *ctx, const lpdm_plugin *p, const char *origin);
/* Finds by full name ("distance.euclidean") or short name ("euclidean").
   Borrowed; NULL when absent (no message set). */
const lpdm_plugin *lpdm_plugin_find(const lpdm_ctx *ctx, int kind, const char *name);
/* As find, but sets a message listing the known names when absent. */
const lpdm_plugin *lpdm_plugin_get(lpdm_ctx *ctx, int kind, const char *name);
int lpdm_plugin_count(const lpdm_ctx *ctx, int kind); /* kind 0 = all */
const lpdm_plugin *lpdm_plugin_at(const lpdm_ctx *ctx, int kind, int i);
const char *lpdm_plugin_origin(const lpdm_ctx *ctx, const lpdm_plugin *p);
const char *lpdm_kind_name(int kind); /* "distance", ... */
/* The part of a name after the kind's dot ("env.CartPole-v1" -> "CartPole-v1"). */
const char *lpdm_plugin_short(const lpdm_plugin *p);

/* ------------------------------------------------------------ config */

/* Fills cfg with p's defaults. */
int lpdm_config_init(lpdm_ctx *ctx, const lpdm_plugin *p, lpdm_config *cfg);
/* Index of key in cfg, or -1. */
int lpdm_config_index(const lpdm_config *cfg, const char *key);
/* Setters check the key exists (else an error naming the plugin, the key
   and the known keys) and the type fits. `what` names the plugin. */
int lpdm_config_set_num(lpdm_ctx *ctx, lpdm_config *cfg, const char *what, const char *key, double v);
int lpdm_config_set_str(lpdm_ctx *ctx, lpdm_config *cfg, const char *what, const char *key, const char *v);
int lpdm_config_set_bool(lpdm_ctx *ctx, lpdm_config *cfg, const char *what, const char *key, int v);
/* Parses text by the key's type ("0.5", "true", "tanh"). */
int lpdm_config_set_text(lpdm_ctx *ctx, lpdm_config *cfg, const char *what, const char *key, const char *text);
/* Writes "key=value, ..." into buf. */
void lpdm_config_format(const lpdm_config *cfg, char *buf, size_t len);
/* LPDM_OK, or LPDM_ERR_ARG with "<what>: read config key 'k', which it
   does not declare (declared: ...)" when a plugin's lpdm_cfg_* read of cfg
   went wrong (plugin.h, lpdm_config). lpdm_*_new, lpdm_net_*, lpdm_env_*
   and the algo functions check it after every callback; a host that calls
   a callback itself calls this after it. */
int lpdm_config_check(lpdm_ctx *ctx, const lpdm_config *cfg, const char *what);

/* ------------------------------------------------------------ RNG */

/* xoshiro256** seeded by splitmix64: fast, reproducible, and its whole state
   is these four words (serialisable). */
struct lpdm_rng {
  uint64_t s[4];
  int has_spare;
  double spare;
};
void lpdm_rng_seed(lpdm_rng *r, uint64_t seed);
uint64_t lpdm_rng_u64(lpdm_rng *r);
double lpdm_rng_uniform(lpdm_rng *r);     /* [0, 1), 53 bits */
double lpdm_rng_normal(lpdm_rng *r);      /* N(0, 1)         */
uint64_t lpdm_rng_below(lpdm_rng *r, uint64_t n); /* [0, n), unbiased */
/* A random rows x cols matrix with orthonormal rows (rows <= cols) or
   columns, by modified Gram-Schmidt of normal draws in double precision
   (the layers' init = "orthogonal"); LPDM_ERR_MEM when out of memory. */
int lpdm_rng_orthogonal(lpdm_rng *r, float *A, int rows, int cols);

/* NumPy-compatible generator: np.random.Generator(PCG64(SeedSequence(seed))),
   as Gymnasium's env.np_random after reset(seed=seed). */
typedef struct lpdm_nprng {
  uint64_t state_hi, state_lo, inc_hi, inc_lo;
} lpdm_nprng;
void lpdm_nprng_seed(lpdm_nprng *r, uint64_t seed);
uint64_t lpdm_nprng_u64(lpdm_nprng *r);
double lpdm_nprng_uniform(lpdm_nprng *r, double low, double high); /* Generator.uniform */
double lpdm_nprng_standard_normal(lpdm_nprng *r); /* Generator.standard_normal */

/* ------------------------------------------------------------ optimizers */

typedef enum { LPDM_OPT_ADAM = 1, LPDM_OPT_SGD = 2 } lpdm_opt_type;
typedef struct lpdm_optim_cfg {
  int type;       /* lpdm_opt_type                         */
  double lr;
  double beta1, beta2, eps; /* Adam                        */
  double momentum;          /* SGD                         */
  double weight_decay;      /* L2 added to the gradient    */
} lpdm_optim_cfg;
lpdm_optim_cfg lpdm_optim_default(int type, double lr); /* Adam: 0.9, 0.999, 1e-8 */
const char *lpdm_optim_type_name(int type);
int lpdm_optim_type_parse(const char *name); /* "adam"/"sgd", 0 if unknown */

typedef struct lpdm_optim lpdm_optim;
/* Optimizes the given params (borrowed; they must outlive it).
   Caller frees with lpdm_optim_free. */
int lpdm_optim_new(lpdm_ctx *ctx, const lpdm_optim_cfg *cfg, lpdm_param *params,
                   int nparams, lpdm_optim **out);
void lpdm_optim_free(lpdm_optim *o);
/* One step on the params' current gradients; scale multiplies the
   gradients first (1 for none). Refuses a NaN/Inf gradient. */
int lpdm_optim_step(lpdm_optim *o, lpdm_ctx *ctx, float scale);
void lpdm_optim_zero(lpdm_optim *o);
void lpdm_optim_set_lr(lpdm_optim *o, double lr);
double lpdm_optim_lr(const lpdm_optim *o);
const lpdm_optim_cfg *lpdm_optim_config(const lpdm_optim *o);
/* Sum of squared gradients of the params. */
double lpdm_optim_grad_sq(const lpdm_optim *o);
/* The gradients as one flat array, in parameter order (data-parallel runs
   sum them across processes): their count, a copy into dst (returns the
   end of what it wrote), and back from src (returns the end it read). */
size_t lpdm_optim_grad_count(const lpdm_optim *o);
float *lpdm_optim_grad_get(const lpdm_optim *o, float *dst);
const float *lpdm_optim_grad_set(lpdm_optim *o, const float *src);

/* ------------------------------------------------------------ distance, loss */

/* Instances from a registered kind and a checked config (NULL: defaults).
   Caller frees with lpdm_distance_free / lpdm_loss_free. */
int lpdm_distance_new(lpdm_ctx *ctx, const lpdm_distance_kind *k, const lpdm_config *cfg, lpdm_distance **out);
void lpdm_distance_free(lpdm_distance *d);
int lpdm_loss_new(lpdm_ctx *ctx, const lpdm_loss_kind *k, const lpdm_config *cfg, lpdm_loss **out);
void lpdm_loss_free(lpdm_loss *l);

/* ------------------------------------------------------------ networks */

/* A network: a stack of layers from in_dim inputs, each layer with its own
   optimizer. Two training modes:
   bp    -- lpdm_net_train_forward keeps every layer's output, and
            lpdm_net_backward carries dL/dout back through every layer;
   local -- lpdm_net_local_update trains each layer by its local loss as the
            batch flows forward, keeping no activation of an earlier layer.
   A network with no layers passes its input through. */
typedef struct lpdm_net lpdm_net;
int lpdm_net_new(lpdm_ctx *ctx, int in_dim, lpdm_net **out); /* free with lpdm_net_free */
void lpdm_net_free(lpdm_net *net);
/* Appends a layer of kind k with cfg (NULL: defaults), initialised from
   rng, optimised with ocfg. Width chaining is checked by construction. */
int lpdm_net_add(lpdm_net *net, lpdm_ctx *ctx, const lpdm_layer_kind *k,
                 const lpdm_config *cfg, lpdm_rng *rng, const lpdm_optim_cfg *ocfg);
int lpdm_net_in_dim(const lpdm_net *net);
int lpdm_net_out_dim(const lpdm_net *net);
int lpdm_net_depth(const lpdm_net *net);
lpdm_layer *lpdm_net_layer(lpdm_net *net, int i);   /* borrowed */
lpdm_optim *lpdm_net_optim(lpdm_net *net, int i);   /* borrowed */
/* Sets the optimizer of layer i (-1: every layer). */
int lpdm_net_set_optim(lpdm_net *net, lpdm_ctx *ctx, int i, const lpdm_optim_cfg *ocfg);
size_t lpdm_net_param_count(const lpdm_net *net);
/* A new net with src's layers (same kinds, configs and optimizer settings),
   freshly initialised from rng: e.g. a critic shaped like the actor. */
int lpdm_net_clone(lpdm_net *src, lpdm_ctx *ctx, lpdm_rng *rng, lpdm_net **out);
/* Marks layer i's learning rate (-1: every layer) as the user's own:
   algorithms keep it (annealing still scales it) instead of setting their
   rate. The Lua binding marks a layer whose spec sets lr, every layer of
   lpdm.net{lr = ...}, and net:set_lr(). lpdm_net_clone copies the marks. */
void lpdm_net_keep_lr(lpdm_net *net, int i, int on);
int lpdm_net_lr_kept(const lpdm_net *net, int i);
/* "post" (default): a layer's output is recomputed after its local step;
   "pre": the output from before the step is handed on. */
void lpdm_net_set_propagate_post(lpdm_net *net, int post);

/* Inference: Y (B x out_dim, caller-owned) = net(X). */
int lpdm_net_forward(lpdm_net *net, lpdm_ctx *ctx, const float *X, int B, float *Y);

/* bp mode. train_forward keeps the activations and returns the output
   (borrowed, valid until the next call on net). backward takes dOut
   (B x out_dim, may be overwritten), adds parameter gradients, and writes
   dX (B x in_dim) when dX != NULL. */
int lpdm_net_train_forward(lpdm_net *net, lpdm_ctx *ctx, const float *X, int B, const float **Y);
/* The same without copying X: backward reads the caller's X, which must
   stay valid and unchanged until lpdm_net_backward (the same results). */
int lpdm_net_train_forward_ref(lpdm_net *net, lpdm_ctx *ctx, const float *X, int B, const float **Y);
int lpdm_net_backward(lpdm_net *net, lpdm_ctx *ctx, float *dOut, float *dX);
/* LPDM_OK when backward can pass every layer; else an error naming every
   black box it cannot pass (index, kind, label), prefixed with what. */
int lpdm_net_check_backward(const lpdm_net *net, lpdm_ctx *ctx, const char *what);
void lpdm_net_zero_grad(lpdm_net *net);
/* One optimizer step on every trainable layer (scale as lpdm_optim_step). */
int lpdm_net_step(lpdm_net *net, lpdm_ctx *ctx, float scale);
double lpdm_net_grad_sq(const lpdm_net *net);
/* Every layer's gradients as one flat array (lpdm_optim_grad_get's). */
size_t lpdm_net_grad_count(const lpdm_net *net);
float *lpdm_net_grad_get(const lpdm_net *net, float *dst);
const float *lpdm_net_grad_set(lpdm_net *net, const float *src);

/* local mode: one pass of X through the network, each trainable layer
   taking one optimizer step on loss(dist(X_l), dist(Y_l), g). g is the
   per-sample guidance (may be NULL for losses that do not use it).
   *Y receives the final features (borrowed, valid until the next call),
   losses (may be NULL) receives one loss value per layer. */
int lpdm_net_local_update(lpdm_net *net, lpdm_ctx *ctx, const lpdm_distance *dist,
                          const lpdm_loss *loss, const float *X, int B,
                          const float *g, const float **Y, double *losses);
/* local mode with a per-layer gradient of the caller's (layer-wise local
   heads, feedback alignment; plugins/algos/lib/rule.h): one pass of X
   through the net; for each trainable layer l, with input X_l and output
   Y_l = layer(X_l),
       dY = (1 - match) add(X_l, Y_l) + match dL_match/dY_l
   (add writes its dL/dY_l, B x out_dim, zeroed before the call, and its
   loss; L_match is lpdm_net_local_update's distance matching with dist,
   loss and g, used only when match > 0), then the layer's own parameters
   take one optimizer step. Nothing flows back to X_l: no gradient crosses
   a layer. post: -1 the net's setting (lpdm_net_set_propagate_post), 0 the
   output from before the step is handed on (so every layer sees the
   forward pass from before the update, as feedback alignment's
   definition), 1 the output after it. Black boxes are applied, not
   trained. losses (may be NULL): (1 - match) L_add + match L_match per
   layer; *Y as lpdm_net_local_update. */
typedef struct lpdm_layer_signal {
  int (*add)(void *arg, lpdm_net *net, int layer, const float *X, const float *Y, int B, float *dY, double *L,
             lpdm_ctx *ctx);
  void *arg;
  double match; /* in [0, 1]: the share of distance matching (0: none) */
  const lpdm_distance *dist;
  const lpdm_loss *loss;
  const float *g;
  int post;
} lpdm_layer_signal;
int lpdm_net_signal_update(lpdm_net *net, lpdm_ctx *ctx, const lpdm_layer_signal *s, const float *X, int B,
                           const float **Y, double *losses);
/* Which features a head sees: the one place an algorithm's modes differ.
     LPDM_FEAT_BP      train_forward: every activation kept for backward;
     LPDM_FEAT_LOCAL   step->update trains the net on X (its local rule) and
                       gives the output after the update, detached; without a
                       step, or B < step->min_batch, the net's plain output;
     LPDM_FEAT_FROZEN  the net's plain output; the net is never trained.
   A net without layers gives X itself in local and frozen mode. scratch
   (B x out_dim floats, caller's) receives a plain output; *Y points at
   the features (borrowed: X, scratch or the net's buffer, valid until the
   next call on net). plugins/algos/lib/rule.h plugs its rules in here. */
enum { LPDM_FEAT_BP = 0, LPDM_FEAT_LOCAL = 1, LPDM_FEAT_FROZEN = 2 };
typedef struct lpdm_local_step {
  int (*update)(void *arg, lpdm_net *net, lpdm_ctx *ctx, const float *X, int B, const float **Y);
  void *arg;
  int min_batch; /* fewer samples: no update (LPDM needs 2 for a pair) */
} lpdm_local_step;
int lpdm_net_features(lpdm_net *net, lpdm_ctx *ctx, int mode, const lpdm_local_step *step, const float *X, int B,
                      float *scratch, const float **Y);
/* Bytes of working memory the net holds now (activations, buffers). */
size_t lpdm_net_work_bytes(const lpdm_net *net);

/* How local mode holds a layer's pairwise matrices (docs/performance.md,
   "Large batches"). The whole-matrix path keeps three B x B float matrices
   and the distance's B x B work; the row-blocked path keeps `block` rows
   of them at a time (about 16 block B bytes, besides the B x width
   activations), computing them again in each of its passes (about three
   times the flops), and needs a distance and a loss with the ABI 1.2 row
   callbacks (distance.euclidean, distance.sqeuclidean, loss.stress,
   loss.guided). Its result is the whole-matrix path's up to float
   summation order, and repeats bit for bit for a given block size. */
typedef struct lpdm_local_cfg {
  int blocked;   /* 1: row blocks whenever the distance and loss have them; 0 (default): only beyond budget */
  int block;     /* rows per block (default 256)                                                          */
  size_t budget; /* bytes the whole-matrix path may take (default 1 GiB, i.e. B up to ~8190); a larger
                    batch goes by row blocks, and is refused, naming the plugin, if one has none        */
  int partners;  /* 0 (default): every pair, exact. k > 0: each row's loss over k random partners (all
                    distinct, never itself; k >= B - 1 is every pair), drawn afresh per layer and
                    update: an estimate, see docs/performance.md. Needs the row callbacks.            */
  uint64_t seed; /* the partners' generator (default 0)                                               */
} lpdm_local_cfg;
lpdm_local_cfg lpdm_local_default(void);
/* Sets net's local-mode options (block >= 1, budget >= 1, partners >= 0,
   else an error and nothing changes) and reseeds its partner generator from
   cfg->seed. lpdm_net_clone copies the options (its generator starts from
   the seed). The generator is not part of a checkpoint. */
int lpdm_net_set_local(lpdm_net *net, lpdm_ctx *ctx, const lpdm_local_cfg *cfg);
lpdm_local_cfg lpdm_net_local(const lpdm_net *net);

/* ------------------------------------------------------------ envs */

/* An env instance with action checking. Caller frees with lpdm_env_free. */
int lpdm_env_new(lpdm_ctx *ctx, const lpdm_env_kind *k, const lpdm_config *cfg, lpdm_env **out);
void lpdm_env_free(lpdm_env *env);
int lpdm_env_reset(lpdm_env *env, lpdm_ctx *ctx, int has_seed, uint64_t seed, float *obs);
/* Raw state in Gymnasium's layout (env->state_dim values). set_state
   refuses a non-finite value, naming the env and the index, before the
   plugin sees it; an env without the optional callbacks is an error. */
int lpdm_env_get_state(const lpdm_env *env, lpdm_ctx *ctx, double *state);
int lpdm_env_set_state(lpdm_env *env, lpdm_ctx *ctx, const double *state);
/* Checks the action against the action space (integral and in range for
   Discrete, finite for Box) before the plugin sees it. */
int lpdm_env_step(lpdm_env *env, lpdm_ctx *ctx, const double *action, float *obs,
                  double *reward, int *terminated, int *truncated);
/* Rendering (env.h, render_rgb; ABI 2.2). lpdm_env_can_render: 1 when the
   env's plugin has render_rgb and render_info. lpdm_env_render_info: its
   natural size and frames per second (an error naming the env if it cannot
   render). lpdm_env_render_rgb: width * height * 3 bytes, RGB24, rows
   top-down, into rgb (caller's); width, height in 1..8192. */
int lpdm_env_can_render(const lpdm_env *env);
int lpdm_env_render_info(const lpdm_env *env, lpdm_ctx *ctx, int *width, int *height, int *fps);
int lpdm_env_render_rgb(lpdm_env *env, lpdm_ctx *ctx, unsigned char *rgb, int width, int height);

/* ------------------------------------------------------------ algorithms */

int lpdm_algo_new(lpdm_ctx *ctx, const lpdm_algo_kind *k, const lpdm_config *cfg,
                  const lpdm_algo_setup *setup, lpdm_algo **out);
void lpdm_algo_free(lpdm_algo *a);
/* One iteration (kind->iterate: LPDM_OK, LPDM_DONE or an error) and the
   deterministic action (kind->act; an error when the kind has none), each
   failing by name when the plugin read an undeclared config key
   (lpdm_config_check). Hosts call these rather than the callbacks. */
int lpdm_algo_iterate(lpdm_algo *a, lpdm_ctx *ctx, lpdm_figures *figures);
int lpdm_algo_act(lpdm_algo *a, lpdm_ctx *ctx, const float *obs, double *action);

/* An iteration's figures (algo.h). The host makes one (caller frees with
   lpdm_figures_free) and clears it before each iterate; an algorithm sets
   them. set copies the name (set again: the value is replaced) and returns
   LPDM_ERR_MEM when it cannot grow, LPDM_ERR_ARG for a NULL or empty name:
   nothing is dropped silently. setf formats the name ("local_loss_%d"; a
   name of 256 characters or more is LPDM_ERR_ARG). */
lpdm_figures *lpdm_figures_new(void);
void lpdm_figures_free(lpdm_figures *f);
void lpdm_figures_clear(lpdm_figures *f);
int lpdm_figures_set(lpdm_figures *f, const char *name, double v);
int lpdm_figures_setf(lpdm_figures *f, double v, const char *fmt, ...) LPDM_PRINTF(3, 4);
int lpdm_figures_count(const lpdm_figures *f);
const char *lpdm_figures_name(const lpdm_figures *f, int i); /* borrowed; NULL out of range */
double lpdm_figures_value(const lpdm_figures *f, int i);     /* NaN out of range */
/* 1 and *v when name is set, else 0. */
int lpdm_figures_get(const lpdm_figures *f, const char *name, double *v);

/* ------------------------------------------------------------ safetensors */

/* A set of named tensors with string metadata, read from or written to a
   safetensors file (docs/checkpoints.md). The reader bounds-checks
   everything and refuses a bad file with a message naming it. */
typedef struct lpdm_st lpdm_st;
enum { LPDM_ST_F32 = 1, LPDM_ST_F64, LPDM_ST_I64, LPDM_ST_U64, LPDM_ST_I32, LPDM_ST_U32, LPDM_ST_U8 };
#define LPDM_ST_MAX_DIMS 8
#define LPDM_ST_NAMELEN 256
int lpdm_st_new(lpdm_ctx *ctx, lpdm_st **out); /* empty; free with lpdm_st_free */
void lpdm_st_free(lpdm_st *st);
/* Copies data (the shape's element count x the dtype's size bytes). */
int lpdm_st_add(lpdm_st *st, lpdm_ctx *ctx, const char *name, int dtype, int ndim, const int64_t *shape,
                const void *data);
/* key: 1..255 printable characters without quotes; value: any text under
   64 KiB (quotes, backslashes and newlines are escaped in the header). */
int lpdm_st_set_meta(lpdm_st *st, lpdm_ctx *ctx, const char *key, const char *value);
/* Atomic: path.tmp, fsync, rename. */
int lpdm_st_write(const lpdm_st *st, lpdm_ctx *ctx, const char *path);
int lpdm_st_read(lpdm_ctx *ctx, const char *path, lpdm_st **out);
/* Parses len bytes already in memory; `what` names them in messages. */
int lpdm_st_parse(lpdm_ctx *ctx, const void *buf, size_t len, const char *what, lpdm_st **out);
int lpdm_st_count(const lpdm_st *st);
const char *lpdm_st_name(const lpdm_st *st, int i);
/* The tensor's bytes (borrowed, little-endian) or NULL when absent. */
const void *lpdm_st_get(const lpdm_st *st, const char *name, int *dtype, int *ndim, const int64_t **shape,
                        size_t *nbytes);
const char *lpdm_st_meta(const lpdm_st *st, const char *key); /* NULL when absent */
const char *lpdm_st_meta_key(const lpdm_st *st, int i);        /* i-th key, NULL past the end */
const char *lpdm_st_dtype_name(int dtype);
int lpdm_st_dtype_size(int dtype);

/* A net's parameters as tensors "<prefix>.<layer>.<param>" (layer from 0,
   param as the layer names it: "weight", "bias", ...; F32 with the
   param's rows x cols), and, with optim != 0, each layer's optimizer
   state: "<prefix>.<layer>.<param>.m" / ".v" and "<prefix>.<layer>.step"
   (I64). load checks every name, dtype and shape against the net and
   refuses non-finite weights, naming the tensor; nothing is changed
   unless everything fits. */
int lpdm_net_save(lpdm_net *net, lpdm_ctx *ctx, lpdm_st *st, const char *prefix, int optim);
int lpdm_net_load(lpdm_net *net, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix, int optim);

/* ------------------------------------------------------------ run state */

/* An env's or an algorithm's state through its ABI 1.1 callbacks; an error
   naming the plugin when it has none (or was built for ABI 1.0). */
int lpdm_env_save(const lpdm_env *env, lpdm_ctx *ctx, lpdm_st *st, const char *prefix);
int lpdm_env_load(lpdm_env *env, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix);
int lpdm_algo_save(lpdm_algo *a, lpdm_ctx *ctx, lpdm_st *st);
/* The algorithm's default local loss (lpdm_algo_kind.local_loss, "guided"
   when it names none): its loss plugin and a config with the settings
   applied, and the spec text in *spec (may be NULL). */
int lpdm_algo_local_loss(lpdm_ctx *ctx, const lpdm_algo_kind *k, const lpdm_loss_kind **loss, lpdm_config *cfg,
                         const char **spec);
/* A loss and its config from a spec "name key=value ..." ("guided
   alpha=0.3"); `what` names the spec's owner in messages. */
int lpdm_loss_spec(lpdm_ctx *ctx, const char *spec, const char *what, const lpdm_loss_kind **loss, lpdm_config *cfg);
int lpdm_algo_load(lpdm_algo *a, lpdm_ctx *ctx, const lpdm_st *st);

/* Helpers for plugins' save/load: a tensor "<prefix>.<what>" of n values
   (F64, I64 or U64; put copies, get checks the dtype and the count and
   names the tensor when it is missing or does not fit). */
int lpdm_state_put_f64(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const double *x, int n);
int lpdm_state_get_f64(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, double *x, int n);
int lpdm_state_put_i64(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const int64_t *x, int n);
int lpdm_state_get_i64(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, int64_t *x, int n);
int lpdm_state_put_f32(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const float *x, size_t n);
int lpdm_state_get_f32(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, float *x, size_t n);
/* The usual env state in one call: "<prefix>.state" (F64, nx values),
   "<prefix>.counters" (I64, nc values) and "<prefix>.rng" (a NumPy-style
   generator). get changes nothing unless all three fit. */
int lpdm_state_put_env(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const double *x, int nx, const int64_t *c,
                       int nc, const lpdm_nprng *rng);
int lpdm_state_get_env(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, double *x, int nx, int64_t *c, int nc,
                       lpdm_nprng *rng);
/* An optimizer's state (moments, step count) for params it was made with:
   "<prefix>.<i>.m", ".v" (F32) and "<prefix>.step" (I64). */
int lpdm_optim_save(lpdm_optim *o, lpdm_ctx *ctx, lpdm_st *st, const char *prefix);
int lpdm_optim_load(lpdm_optim *o, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix);
/* RNG states (four/two 64-bit words and the cached normal of xoshiro). */
int lpdm_state_put_rng(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const lpdm_rng *r);
int lpdm_state_get_rng(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, lpdm_rng *r);
int lpdm_state_put_nprng(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, const lpdm_nprng *r);
int lpdm_state_get_nprng(const lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const char *what, lpdm_nprng *r);

/* ------------------------------------------------------------ policies */

/* A trained policy as a file of its own (docs/policy.md): what acting
   needs, written by an algorithm's export_policy (algo.h, ABI 2.2) and
   read back without the run. */
#define LPDM_POLICY_FORMAT "lpdm.policy"
#define LPDM_POLICY_FORMAT_VERSION 1
enum { LPDM_POLICY_CATEGORICAL = 1, LPDM_POLICY_GAUSSIAN, LPDM_POLICY_Q_GREEDY };
/* lpdm_policy_act's flags: the greedy action (argmax, the Gaussian's
   mean); a Box action as the head gives it, not clipped to the bounds. */
enum { LPDM_POLICY_DETERMINISTIC = 1, LPDM_POLICY_RAW = 2 };
typedef struct lpdm_policy lpdm_policy;

/* 1 when the algorithm kind can write a policy file. */
int lpdm_algo_has_policy(const lpdm_algo_kind *k);
/* The run's policy into st (kind->export_policy, plus "format" and
   "lpdm_version"); an error naming the algorithm when it has none. Call
   between iterations; write st with lpdm_st_write. */
int lpdm_algo_export_policy(lpdm_algo *a, lpdm_ctx *ctx, lpdm_st *st);
/* For export_policy: a net as tensors "<prefix>.<i>.<param>" (F32, no
   optimizer state) and its layer list as metadata "<prefix>.depth",
   "<prefix>.in_dim", "<prefix>.<i>.kind" (the plugin's full name),
   "<prefix>.<i>.out_dim", "<prefix>.<i>.config.<key>" (each key's value as
   text that reads back exactly); a config alone as "<prefix>.<key>". */
int lpdm_policy_put_net(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, lpdm_net *net);
int lpdm_policy_put_config(lpdm_st *st, lpdm_ctx *ctx, const char *prefix, const lpdm_config *cfg);
/* Reads a policy file and rebuilds its nets (their layer plugins must be
   in ctx). Refuses, naming the file and the thing: not a policy file, a
   newer format_version, missing or misshapen tensors or metadata, a layer
   whose plugin is not loaded or that cannot be rebuilt (layer.lua). Caller
   frees with lpdm_policy_free. from_st takes st over (freed on failure
   too); what names it in messages. */
int lpdm_policy_load(lpdm_ctx *ctx, const char *path, lpdm_policy **out);
int lpdm_policy_from_st(lpdm_ctx *ctx, lpdm_st *st, const char *what, lpdm_policy **out);
void lpdm_policy_free(lpdm_policy *p);
/* The action for one raw observation (obs_dim floats) into action (one
   value for Discrete, dim for Box). flags LPDM_POLICY_DETERMINISTIC: the
   algorithm's act(): argmax of the logits or Q-values, the Gaussian's mean
   (squashed with squash_mean); else a softmax sample (one uniform draw of
   rng) or mean + exp(log_std) N(0, 1) (one normal per dimension; a
   q_greedy policy acts greedily). A Box action is then clipped to the
   bounds, unless LPDM_POLICY_RAW. */
int lpdm_policy_act(lpdm_policy *p, lpdm_ctx *ctx, const float *obs, int flags, lpdm_rng *rng, double *action);
int lpdm_policy_obs_dim(const lpdm_policy *p);
const lpdm_space *lpdm_policy_action_space(const lpdm_policy *p); /* borrowed */
int lpdm_policy_distribution(const lpdm_policy *p);               /* LPDM_POLICY_CATEGORICAL, ... */
const lpdm_st *lpdm_policy_file(const lpdm_policy *p);             /* its tensors and metadata */
const char *lpdm_policy_meta(const lpdm_policy *p, const char *key); /* NULL when absent */

/* ------------------------------------------------------------ numerics */

/* Kernels shared by plugins (kernels.c): tanh in place (within 4 float32
   ulp, vectorised); copy an n x n matrix's upper triangle onto its lower;
   out-of-place transpose of an n x n matrix. */
void lpdm_k_tanh(float *x, size_t n);
void lpdm_k_mirror_upper(float *A, int n);
void lpdm_k_transpose(const float *A, float *At, int n);

/* Fails with LPDM_ERR_NUM naming `what` when x has a NaN or Inf. */
int lpdm_check_finite(lpdm_ctx *ctx, const float *x, size_t n, const char *what);

#ifdef __cplusplus
}
#endif
#endif
