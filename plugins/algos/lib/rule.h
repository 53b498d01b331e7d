/* SPDX-License-Identifier: MIT */
/*
** lib/rule.h -- how a trunk (an algorithm's hidden layers) learns without
** backpropagation: a rule object behind a small vtable, so that LPDM's
** distance matching, layer-wise local heads and direct feedback alignment
** are interchangeable parts of one algorithm.
**
** The design. At update time an algorithm asks for the features its head
** sees with trunk_features(trunk, mode, rule, X, B, targets, ...), which is
** the core function lpdm_net_features (lpdm.h) with the rule plugged in:
**   bp      the trunk's activations are kept for backprop; no rule runs;
**   local   the rule trains the trunk on this batch, and the head sees the
**           trunk's output after the update, detached;
**   frozen  the head sees the trunk's output; the trunk is not trained.
** What a rule may learn from is one per-sample record, algo_targets: the
** guidance g that LPDM's guided loss reads (advantages, returns, TD
** targets, ...) and, for rules that build their own per-layer losses, the
** algorithm's own per-sample quantities -- actions, old log-probs,
** advantages, returns (PPO); actions and returns (REINFORCE); actions and TD
** targets (DQN) -- the algorithm's own objective on any head's outputs
** (objective: local heads train on it), and the output head's error
** dL/dout per sample. Fields an algorithm does not have are NULL; a rule
** refuses, by name, a record that lacks what it needs.
**
** When a rule runs. A rule with needs_head_error = 0 (LPDM, layer-wise
** local heads) runs inside trunk_features, before the head's forward pass,
** as LPDM's training pass does. A rule with needs_head_error = 1 (direct
** feedback alignment) needs targets->dout, which exists only after the
** head's forward and loss: the algorithm then takes the features in frozen
** mode, computes the head's error, and calls trunk_rule_update itself with
** dout filled (the same X, so the update sees the batch the head saw).
** PPO, REINFORCE and DQN all do; PPO refuses it with local_batch=rollout
** (no head error for the whole rollout) and data-parallel (a process holds
** only its rows' errors).
**
** Which rule. The loss the user names chooses (trunk_rule_new): a loss
** plugin whose ABI 2.3 field rule is NULL is distance matching over it; a
** rule name ("localhead", "dfa") builds that rule from the plugin's config
** (docs/architecture.md, "Learning rules").
**
** State. A rule may hold state of its own (local heads' weights, feedback
** matrices): its save/load put it into a checkpoint under the prefix it is
** given ("algo.rule.policy", ...). LPDM's rule has none: its layers'
** weights and optimizers are the trunk's, saved with the trunk.
**
**   trunk_rule *r;
**   rc = trunk_rule_lpdm_new(ctx, setup->distance, setup->loss, &r);
**   algo_targets t = {.B = M, .g = advantages, .act = actions, .na = 1};
**   rc = trunk_features(trunk, ctx, LPDM_FEAT_LOCAL, r, X, M, &t, scratch, &feat, layer_losses);
**   ...
**   trunk_rule_free(r);
*/
#ifndef LPDM_ALGOS_RULE_H
#define LPDM_ALGOS_RULE_H
#include "lpdm/lpdm.h"

/* What a rule may learn from, per sample (B samples; NULL when absent). */
typedef struct algo_targets {
  int B;
  const float *g;   /* guidance (LPDM's guided loss)                         */
  const float *act; /* actions: B x na (an index per sample when Discrete)   */
  int na;
  const float *old_logp;  /* PPO: log-probabilities at rollout time                */
  const float *adv;       /* advantages (PPO)                                      */
  const float *ret;       /* returns (PPO), returns-to-go (REINFORCE)              */
  const float *td_target; /* DQN: r + gamma max_a' Q_target(s', a')                */
  const float *val;       /* PPO's critic: values at rollout time                  */
  const float *dout;      /* the output head's dL/dout, B x dout_dim (DFA)          */
  int dout_dim;
  /* The algorithm's own objective on any head's outputs out (B x the
     head's width, read from this record's fields): writes dout = dL/dout
     and *L. The algorithm's head uses the same formula; layer-wise local
     heads call it on their own outputs. NULL where the algorithm has none. */
  int (*objective)(void *arg, const struct algo_targets *t, const float *out, float *dout, double *L, lpdm_ctx *ctx);
  void *objective_arg;
} algo_targets;

typedef struct trunk_rule trunk_rule;
typedef struct trunk_rule_vt {
  const char *name;     /* "lpdm", ... (messages, checkpoints)                         */
  int needs_head_error; /* 1: targets->dout is needed (see above)                       */
  /* Trains trunk on X (B x in_dim) from t; *Y receives the trunk's output
     after the update (borrowed until the next call on trunk), stats (may be
     NULL) one figure per layer (LPDM: its local loss). */
  int (*update)(trunk_rule *r, lpdm_net *trunk, lpdm_ctx *ctx, const float *X, int B, const algo_targets *t,
                const float **Y, double *stats);
  void (*free)(trunk_rule *r);
  /* (optional) the rule's own state under prefix */
  int (*save)(const trunk_rule *r, lpdm_ctx *ctx, lpdm_st *st, const char *prefix);
  int (*load)(trunk_rule *r, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix);
} trunk_rule_vt;
/* An instance: vt first, the rule's own state after it. */
struct trunk_rule {
  const trunk_rule_vt *vt;
  int min_batch; /* fewer samples: features without an update (2 when distance matching needs pairs) */
};

/* The rule loss names (lpdm_loss_kind.rule, ABI 2.3): distance matching
   when it names none, else layer-wise local heads ("localhead") or direct
   feedback alignment ("dfa"), built for trunk (whose head has out_dim
   outputs) with the loss plugin's config; seed (mixed with role) draws the
   local heads and the feedback matrices; role names the trunk in messages
   and checkpoints ("actor", "critic", "policy", "value", "q"). "frozen"
   (the control of issue 26) never trains the trunk. */
int trunk_rule_new(lpdm_ctx *ctx, const lpdm_distance *dist, const lpdm_loss *loss, lpdm_net *trunk, int out_dim,
                   uint64_t seed, const char *role, trunk_rule **out);
/* 1 when the loss names a rule other than distance matching (local heads,
   feedback alignment, frozen): such a rule follows the loss's gradient or
   its stand-in, so the algorithms resolve its default rates to bp's. */
int trunk_rule_bp_rates(const lpdm_loss *loss);

/* Layer-wise local heads (lib/rule_local.c): every trainable layer l has
   a linear head H_l (its outputs as many as the algorithm's head), trained
   with the algorithm's objective on H_l(Y_l); the layer steps on that
   loss's gradient with respect to Y_l, which stops at its input. Config
   (loss.localhead): match, match_loss, head_lr. */
int trunk_rule_localhead_new(lpdm_ctx *ctx, const lpdm_distance *dist, const lpdm_loss *loss, lpdm_net *trunk,
                             int out_dim, uint64_t seed, const char *role, trunk_rule **out);
/* Direct feedback alignment (lib/rule_local.c): after the head's loss,
   every trainable layer l steps on dL/dY_l := dout F_l, F_l a fixed random
   out_dim x width_l matrix, all layers from one forward pass. Config
   (loss.dfa): scale, match, match_loss. */
int trunk_rule_dfa_new(lpdm_ctx *ctx, const lpdm_distance *dist, const lpdm_loss *loss, lpdm_net *trunk, int out_dim,
                       uint64_t seed, const char *role, trunk_rule **out);
/* The control "frozen" (loss.frozen): the trunk is never trained; the
   head sees its output at the random initial weights. */
int trunk_rule_frozen_new(lpdm_ctx *ctx, trunk_rule **out);
/* A local-heads rule's head for layer i (NULL for a black box or another
   rule): a one-layer dense net, borrowed. */
lpdm_net *trunk_rule_localhead_head(const trunk_rule *r, int i);
/* A DFA rule's feedback matrix for layer i (0-based; NULL for a black box
   or another rule): out_dim x the layer's width, row-major. */
const float *trunk_rule_dfa_feedback(const trunk_rule *r, int i);

/* LPDM's distance matching (lpdm_net_local_update): each layer steps on
   loss(dist(X_l), dist(Y_l), t->g). dist and loss are borrowed; the loss
   may be changed between updates (e.g. its alpha annealed). */
int trunk_rule_lpdm_new(lpdm_ctx *ctx, const lpdm_distance *dist, const lpdm_loss *loss, trunk_rule **out);
/* Points an LPDM rule at another loss (borrowed). */
void trunk_rule_lpdm_set_loss(trunk_rule *r, const lpdm_loss *loss);

void trunk_rule_free(trunk_rule *r); /* accepts NULL */
int trunk_rule_update(trunk_rule *r, lpdm_net *trunk, lpdm_ctx *ctx, const float *X, int B, const algo_targets *t,
                      const float **Y, double *stats);
int trunk_rule_save(const trunk_rule *r, lpdm_ctx *ctx, lpdm_st *st, const char *prefix);
int trunk_rule_load(trunk_rule *r, lpdm_ctx *ctx, const lpdm_st *st, const char *prefix);

/* The features a head sees: lpdm_net_features (lpdm.h) with mode bp, local
   (rule r trains the trunk first; r NULL or B < r's min_batch: no update)
   or frozen. scratch holds B x out_dim floats for modes that need a copy;
   stats as the rule's update (untouched when no update ran). */
int trunk_features(lpdm_net *trunk, lpdm_ctx *ctx, int mode, trunk_rule *r, const float *X, int B,
                   const algo_targets *t, float *scratch, const float **Y, double *stats);

#endif
