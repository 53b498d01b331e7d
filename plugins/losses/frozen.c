/* SPDX-License-Identifier: MIT */
/*
** frozen.c -- the control "frozen" (issue 26; docs/results/paper-v2/
** protocol.md): a learning rule (ABI 2.3 lpdm_loss_kind.rule) under which
** the hidden layers are never trained. The heads learn on the features of
** the random initial weights, so a study can tell what a local loss adds
** over random features of the same widths. The algorithms build it
** (plugins/algos/lib/rule.c); its rates default to bp's, as the other
** rules'.
**
** Lua:
**   lpdm.algo("ppo", { ..., mode = "local", loss = "frozen", head_lr = 1e-3 })
*/
#include "lpdm/loss.h"

static const lpdm_key keys[] = {{NULL, 0, NULL, NULL}};

static const lpdm_loss_kind frozen_kind = {
    .head = LPDM_PLUGIN_HEAD(LPDM_KIND_LOSS, "loss.frozen",
                             "control: the hidden layers are never trained (random features); only the heads learn",
                             keys),
    .rule = "frozen",
};

LPDM_EXPORT const lpdm_plugin *lpdm_plugin_frozen(void) { return &frozen_kind.head; }
