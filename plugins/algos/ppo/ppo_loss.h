/* SPDX-License-Identifier: MIT */
/*
** ppo/ppo_loss.h -- PPO's own formulas (ppo_loss.c), each tested on its own
** by tests/test_ppo.c:
**
**   GAE               A_t = delta_t + gamma lambda (1 - d_{t+1}) A_{t+1},
**                     delta_t = r_t + gamma (1 - d_{t+1}) V_{t+1} - V_t,
**                     R_t = A_t + V_t; d_{t+1} = 1 when the obs after step t
**                     starts a new episode (CleanRL's `dones`).
**   Clipped surrogate L = mean_t max(-A_t r_t, -A_t clip(r_t, 1-c, 1+c)) - ent_coef mean_t H_t,
**                     r_t = exp(log pi_new - log pi_old).
**   Value loss        vf_coef * 1/2 mean_t max((v - R)^2, (v_old + clip(v - v_old, -c, c) - R)^2)
**                     (or 1/2 mean (v - R)^2 unclipped).
** The distributions' log-probabilities, entropies and gradients are the
** shared heads' (lib/heads.h).
*/
#ifndef LPDM_ALGOS_PPO_LOSS_H
#define LPDM_ALGOS_PPO_LOSS_H

/* GAE over T steps of N env copies, time-major (index t*N + e). done[t*N+e]
   says obs t of copy e began an episode; next_val, next_done are those of
   the obs after the last step. Writes adv and ret (= adv + val). */
void ppo_gae(int T, int N, const float *rew, const float *val, const float *done, const float *next_val,
             const float *next_done, double gamma, double lambda, float *adv, float *ret);

typedef struct ppo_pstats {
  double pg_loss, entropy, approx_kl, old_approx_kl, clipfrac;
} ppo_pstats;

/* The policy part of PPO's loss over a minibatch of M samples, and its
   gradient: out (M x na) are the head's outputs (logits, or Gaussian means
   with log_std), act the actions taken (an index for discrete), oldlogp
   their log-probabilities at rollout time, adv the (normalised) advantages.
   Writes dout = dL/dout (M x na); adds dL/dlog_std into dlogstd (Gaussian).
   Returns L = pg_loss - ent_coef * entropy.
   ppo_policy_loss_part: the same over M of a minibatch's rows with inv = 1
   / (the whole minibatch's size): gradients and st are this part's share,
   which summed over the parts (a data-parallel run's processes) give the
   whole minibatch's. */
double ppo_policy_loss_part(int M, double inv, int discrete, int na, const float *out, const float *log_std,
                            const float *act, const float *oldlogp, const float *adv, double clip, double ent_coef,
                            float *dout, float *dlogstd, ppo_pstats *st);
double ppo_policy_loss(int M, int discrete, int na, const float *out, const float *log_std, const float *act,
                       const float *oldlogp, const float *adv, double clip, double ent_coef, float *dout,
                       float *dlogstd, ppo_pstats *st);

/* vf_coef times the value loss over M samples (clip <= 0: unclipped), and
   its gradient with respect to v. Returns the value loss itself.
   ppo_value_loss_part: over M rows of a minibatch, inv = 1 / its size (as
   ppo_policy_loss_part). */
double ppo_value_loss_part(int M, double inv, const float *v, const float *vold, const float *ret, double clip,
                           double vf_coef, float *dv);
double ppo_value_loss(int M, const float *v, const float *vold, const float *ret, double clip, double vf_coef,
                      float *dv);

#endif
