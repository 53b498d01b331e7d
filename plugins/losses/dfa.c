/* SPDX-License-Identifier: MIT */
/*
** dfa.c -- direct feedback alignment, a learning rule besides distance
** matching (ABI 2.3 lpdm_loss_kind.rule; Nokland 2016). After the output
** head's loss, each trainable hidden layer l steps on
**
**     dL/dY_l := e F_l,   e = dL/dout (B x out_dim),
**
** with F_l a fixed random out_dim x width_l matrix (entries scale N(0, 1) /
** sqrt(out_dim)), drawn once from the run's seed and saved in checkpoints.
** All layers learn from the forward pass the head saw; no signal travels
** back through the layers.
**
** The algorithms build the rule (plugins/algos/lib/rule_local.c); this
** plugin names it and holds its settings.
**
** Config keys (defaults):
**   scale      = 1         the feedback matrices' scale
**   match      = 0         share of distance matching mixed in
**   match_loss = "stress"  the matching loss and its settings
**
** Lua:
**   lpdm.algo("dqn", { ..., mode = "local", loss = "dfa" })
*/
#include "lpdm/loss.h"

static const lpdm_key keys[] = {
    {"scale", LPDM_T_NUMBER, "1", "feedback entries: scale N(0, 1) / sqrt(the head's outputs)"},
    {"match", LPDM_T_NUMBER, "0", "share of distance matching mixed in (0: feedback alone)"},
    {"match_loss", LPDM_T_STRING, "stress", "the matching loss and settings, e.g. \"guided alpha=0.3\""},
    {NULL, 0, NULL, NULL}};

static const lpdm_loss_kind dfa_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.dfa",
                             "direct feedback alignment: each layer learns from the head's error through a fixed random matrix",
                             keys),
    .rule = "dfa",
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_dfa(void) { return &dfa_kind.head; }
