/* SPDX-License-Identifier: MIT */
/*
** localhead.c -- layer-wise local heads, a learning rule besides distance
** matching (ABI 2.3 lpdm_loss_kind.rule). Every trainable hidden layer l
** gets a linear head H_l of its own, as wide as the algorithm's output head
** and thrown away after training, trained with the algorithm's own
** objective on H_l(Y_l): PPO's clipped surrogate (actor) and value loss
** (critic), REINFORCE's policy-gradient and value losses, DQN's TD loss.
** The layer steps on that loss's gradient with respect to its own output;
** nothing crosses to earlier layers (Nokland & Eidnes 2019's "pred" loss;
** Belilovsky et al. 2020's decoupled greedy learning, in RL).
**
** The algorithms build the rule (plugins/algos/lib/rule_local.c); this
** plugin names it and holds its settings, so that --loss=localhead, the
** catalogue, --list and config checking treat it as every other loss.
**
** Config keys (defaults):
**   match      = 0         share of distance matching mixed into each
**                          layer's gradient: (1 - match) local head +
**                          match matching (predsim's combination)
**   match_loss = "stress"  the matching loss and its settings, as
**                          "guided alpha=0.3" (with the run's distance)
**   head_lr    = 0         the local heads' Adam rate (0: the layer's own
**                          local rate, annealed with it)
**
** Lua:
**   lpdm.algo("ppo", { ..., mode = "local", loss = { "localhead", match = 0.5 } })
*/
#include "lpdm/loss.h"

static const lpdm_key keys[] = {
    {"match", LPDM_T_NUMBER, "0", "share of distance matching mixed in (0: local heads alone)"},
    {"match_loss", LPDM_T_STRING, "stress", "the matching loss and settings, e.g. \"guided alpha=0.3\""},
    {"head_lr", LPDM_T_NUMBER, "0", "the local heads' Adam rate (0: the layer's own rate)"},
    {NULL, 0, NULL, NULL}};

static const lpdm_loss_kind localhead_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.localhead",
                             "layer-wise local heads: each layer trained by the algorithm's objective on a head of its own",
                             keys),
    .rule = "localhead",
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_localhead(void) { return &localhead_kind.head; }
