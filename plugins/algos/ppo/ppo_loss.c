/* SPDX-License-Identifier: MIT */
/*
** ppo/ppo_loss.c -- GAE and PPO's clipped losses (ppo_loss.h). The
** operation order of each formula is fixed: runs repeat bit for bit.
*/
#include "ppo/ppo_loss.h"

#include <math.h>
#include <stddef.h>

#include "lib/heads.h"

void ppo_gae(int T, int N, const float *rew, const float *val, const float *done, const float *next_val,
             const float *next_done, double gamma, double lambda, float *adv, float *ret) {
  for (int e = 0; e < N; e++) {
    double last = 0;
    for (int t = T - 1; t >= 0; t--) {
      size_t i = (size_t)t * N + e;
      double nonterm, nextv;
      if (t == T - 1) {
        nonterm = 1.0 - next_done[e];
        nextv = next_val[e];
      } else {
        nonterm = 1.0 - done[i + N];
        nextv = val[i + N];
      }
      double delta = rew[i] + gamma * nextv * nonterm - val[i];
      last = delta + gamma * lambda * nonterm * last;
      adv[i] = (float)last;
      ret[i] = (float)(last + val[i]);
    }
  }
}

double ppo_policy_loss_part(int M, double inv, int discrete, int na, const float *out, const float *log_std,
                            const float *act, const float *oldlogp, const float *adv, double clip, double ent_coef,
                            float *dout, float *dlogstd, ppo_pstats *st) {
  double pg = 0, ent = 0, kl = 0, okl = 0, cf = 0;
  for (int t = 0; t < M; t++) {
    const float *z = out + (size_t)t * na;
    float *dz = dout + (size_t)t * na;
    double H, lp;
    if (discrete)
      lp = cat_logp(z, na, (int)act[t], &H);
    else {
      lp = gauss_logp(z, log_std, act + (size_t)t * na, na);
      H = gauss_entropy(log_std, na);
    }
    const double lr = lp - oldlogp[t], r = exp(lr), A = adv[t];
    const double rc = r < 1 - clip ? 1 - clip : r > 1 + clip ? 1 + clip : r;
    const double l1 = -A * r, l2 = -A * rc;
    pg += l1 > l2 ? l1 : l2;
    ent += H;
    okl += -lr;
    kl += (r - 1) - lr;
    cf += fabs(r - 1) > clip;
    /* d max(l1, l2)/d lp: -A r where the unclipped term is the larger (or
       r is inside the range, where both are equal), else 0 */
    const double g = (l1 >= l2 ? -A * r : 0.0) * inv;
    if (discrete)
      cat_grad(z, na, (int)act[t], H, g, ent_coef, inv, dz);
    else
      gauss_grad(z, log_std, act + (size_t)t * na, na, g, ent_coef, inv, dz, dlogstd);
  }
  st->pg_loss = pg * inv;
  st->entropy = ent * inv;
  st->approx_kl = kl * inv;
  st->old_approx_kl = okl * inv;
  st->clipfrac = cf * inv;
  return st->pg_loss - ent_coef * st->entropy;
}

double ppo_policy_loss(int M, int discrete, int na, const float *out, const float *log_std, const float *act,
                       const float *oldlogp, const float *adv, double clip, double ent_coef, float *dout,
                       float *dlogstd, ppo_pstats *st) {
  return ppo_policy_loss_part(M, 1.0 / M, discrete, na, out, log_std, act, oldlogp, adv, clip, ent_coef, dout, dlogstd,
                              st);
}

double ppo_value_loss_part(int M, double inv, const float *v, const float *vold, const float *ret, double clip,
                           double vf_coef, float *dv) {
  double L = 0;
  for (int t = 0; t < M; t++) {
    const double e = (double)v[t] - ret[t];
    const double lu = e * e;
    if (clip > 0) {
      const double d = (double)v[t] - vold[t];
      const double dc = d < -clip ? -clip : d > clip ? clip : d;
      const double ec = vold[t] + dc - ret[t], lc = ec * ec;
      if (lu >= lc) {
        L += lu;
        dv[t] = (float)(vf_coef * e * inv);
      } else {
        L += lc;
        dv[t] = (float)(vf_coef * (fabs(d) < clip ? ec : 0.0) * inv);
      }
    } else {
      L += lu;
      dv[t] = (float)(vf_coef * e * inv);
    }
  }
  return 0.5 * L * inv;
}

double ppo_value_loss(int M, const float *v, const float *vold, const float *ret, double clip, double vf_coef,
                      float *dv) {
  return ppo_value_loss_part(M, 1.0 / M, v, vold, ret, clip, vf_coef, dv);
}
