/*
** ppo_math.h -- the numerical parts of PPO (an internal header of
** plugins/algos/, included by ppo.c and by tests/test_ppo.c so that each
** formula is tested on its own):
**
**   GAE               A_t = delta_t + gamma lambda (1 - d_{t+1}) A_{t+1},
**                     delta_t = r_t + gamma (1 - d_{t+1}) V_{t+1} - V_t,
**                     R_t = A_t + V_t; d_{t+1} = 1 when the obs after step t
**                     starts a new episode (CleanRL's `dones`).
**   Gaussian policy   log pi = sum_i -(a_i - mu_i)^2 / (2 s_i^2) - log s_i - log sqrt(2 pi),
**                     H = sum_i 1/2 + log sqrt(2 pi) + log s_i,  s = exp(log_std).
**   Categorical       log pi = z_a - logsumexp(z),  H = -sum p log p.
**   Clipped surrogate L = mean_t max(-A_t r_t, -A_t clip(r_t, 1-c, 1+c)) - ent_coef mean_t H_t,
**                     r_t = exp(log pi_new - log pi_old).
**   Value loss        vf_coef * 1/2 mean_t max((v - R)^2, (v_old + clip(v - v_old, -c, c) - R)^2)
**                     (or 1/2 mean (v - R)^2 unclipped).
**   Running moments   Gymnasium's RunningMeanStd (parallel-variance update,
**                     initial count 1e-4), for observation and reward scaling.
*/
#ifndef LPDM_ALGOS_PPO_MATH_H
#define LPDM_ALGOS_PPO_MATH_H
#include <math.h>

#define PPO_LOG_SQRT_2PI 0.91893853320467274178

/* GAE over T steps of N env copies, time-major (index t*N + e). done[t*N+e]
   says obs t of copy e began an episode; next_val, next_done are those of
   the obs after the last step. Writes adv and ret (= adv + val). */
static inline void ppo_gae(int T, int N, const float *rew, const float *val, const float *done,
                           const float *next_val, const float *next_done, double gamma, double lambda,
                           float *adv, float *ret) {
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

static inline double ppo_gauss_logp(const float *mu, const float *log_std, const float *a, int d) {
  double lp = 0;
  for (int i = 0; i < d; i++) {
    double x = (a[i] - (double)mu[i]) / exp(log_std[i]);
    lp += -0.5 * x * x - log_std[i] - PPO_LOG_SQRT_2PI;
  }
  return lp;
}

static inline double ppo_gauss_entropy(const float *log_std, int d) {
  double h = 0;
  for (int i = 0; i < d; i++) h += 0.5 + PPO_LOG_SQRT_2PI + log_std[i];
  return h;
}

/* log softmax(z)[a]; *H receives the entropy. */
static inline double ppo_cat_logp(const float *z, int n, int a, double *H) {
  double mx = z[0];
  for (int i = 1; i < n; i++)
    if (z[i] > mx) mx = z[i];
  double s = 0;
  for (int i = 0; i < n; i++) s += exp(z[i] - mx);
  double lse = mx + log(s), h = 0;
  for (int i = 0; i < n; i++) {
    double lp = z[i] - lse;
    h -= exp(lp) * lp;
  }
  *H = h;
  return z[a] - lse;
}

typedef struct ppo_pstats {
  double pg_loss, entropy, approx_kl, old_approx_kl, clipfrac;
} ppo_pstats;

/* The policy part of PPO's loss over a minibatch of M samples, and its
   gradient: out (M x na) are the head's outputs (logits, or Gaussian means
   with log_std), act the actions taken (an index for discrete), oldlogp
   their log-probabilities at rollout time, adv the (normalised) advantages.
   Writes dout = dL/dout (M x na); adds dL/dlog_std into dlogstd (Gaussian).
   Returns L = pg_loss - ent_coef * entropy. */
/* ppo_policy_loss_part: the same over M of a minibatch's rows with inv = 1
   / (the whole minibatch's size): gradients and st are this part's share,
   which summed over the parts (a data-parallel run's processes) give the
   whole minibatch's. */
static inline double ppo_policy_loss_part(int M, double inv, int discrete, int na, const float *out,
                                          const float *log_std, const float *act, const float *oldlogp,
                                          const float *adv, double clip, double ent_coef, float *dout, float *dlogstd,
                                          ppo_pstats *st) {
  double pg = 0, ent = 0, kl = 0, okl = 0, cf = 0;
  for (int t = 0; t < M; t++) {
    const float *z = out + (size_t)t * na;
    float *dz = dout + (size_t)t * na;
    double H, lp;
    if (discrete) lp = ppo_cat_logp(z, na, (int)act[t], &H);
    else {
      lp = ppo_gauss_logp(z, log_std, act + (size_t)t * na, na);
      H = ppo_gauss_entropy(log_std, na);
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
    if (discrete) {
      const int a = (int)act[t];
      double mx = z[0];
      for (int i = 1; i < na; i++)
        if (z[i] > mx) mx = z[i];
      double s = 0;
      for (int i = 0; i < na; i++) s += exp(z[i] - mx);
      const double lse = mx + log(s);
      for (int i = 0; i < na; i++) {
        const double lpi = z[i] - lse, p = exp(lpi);
        /* dlp/dz_i = [i==a] - p_i;  d(-c H)/dz_i = c p_i (log p_i + H) */
        dz[i] = (float)(g * ((i == a) - p) + ent_coef * p * (lpi + H) * inv);
      }
    } else {
      const float *a = act + (size_t)t * na;
      for (int i = 0; i < na; i++) {
        const double s = exp(log_std[i]), x = (a[i] - (double)z[i]) / s;
        dz[i] = (float)(g * x / s);                         /* dlp/dmu = x / s        */
        dlogstd[i] += (float)(g * (x * x - 1) - ent_coef * inv); /* dlp/dlog s = x^2 - 1 */
      }
    }
  }
  st->pg_loss = pg * inv;
  st->entropy = ent * inv;
  st->approx_kl = kl * inv;
  st->old_approx_kl = okl * inv;
  st->clipfrac = cf * inv;
  return st->pg_loss - ent_coef * st->entropy;
}

static inline double ppo_policy_loss(int M, int discrete, int na, const float *out, const float *log_std,
                                     const float *act, const float *oldlogp, const float *adv, double clip,
                                     double ent_coef, float *dout, float *dlogstd, ppo_pstats *st) {
  return ppo_policy_loss_part(M, 1.0 / M, discrete, na, out, log_std, act, oldlogp, adv, clip, ent_coef, dout,
                              dlogstd, st);
}

/* vf_coef times the value loss over M samples (clip <= 0: unclipped), and
   its gradient with respect to v. Returns the value loss itself. */
/* ppo_value_loss_part: over M rows of a minibatch, inv = 1 / its size (as
   ppo_policy_loss_part). */
static inline double ppo_value_loss_part(int M, double inv, const float *v, const float *vold, const float *ret,
                                         double clip, double vf_coef, float *dv) {
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

static inline double ppo_value_loss(int M, const float *v, const float *vold, const float *ret, double clip,
                                    double vf_coef, float *dv) {
  return ppo_value_loss_part(M, 1.0 / M, v, vold, ret, clip, vf_coef, dv);
}

/* Gymnasium's RunningMeanStd for one sample x of dim values. */
static inline void ppo_rms_update(double *mean, double *var, double *count, const double *x, int dim) {
  const double tot = *count + 1;
  for (int i = 0; i < dim; i++) {
    const double delta = x[i] - mean[i];
    mean[i] += delta / tot;
    var[i] = (var[i] * *count + delta * delta * *count / tot) / tot;
  }
  *count = tot;
}

#endif
