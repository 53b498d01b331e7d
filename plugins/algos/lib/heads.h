/* SPDX-License-Identifier: MIT */
/*
** lib/heads.h -- output heads and their distributions, shared by the
** algorithm plugins.
**
**   head_make     a one-layer linear (identity) dense net from the features
**                 to the head's outputs: logits, a Gaussian's mean, values
**                 or Q-values.
**   categorical   softmax over logits z: one log-softmax (cat_lse) under
**                 sampling, log-probabilities, entropy and the gradient
**                   log pi(a) = z_a - logsumexp(z),  H = -sum_i p_i log p_i,
**                   d log pi(a)/dz_i = [i == a] - p_i,
**                   d H/dz_i = -p_i (log p_i + H).
**   Gaussian      a diagonal Gaussian with a state-independent log-std
**                 parameter (gauss_std: the parameter, its gradient and its
**                 own Adam, saved as "algo.log_std", "algo.log_std_optim"):
**                   log pi(a) = sum_i -(a_i - mu_i)^2 / (2 s_i^2) - log s_i - log sqrt(2 pi),
**                   H = sum_i 1/2 + log sqrt(2 pi) + log s_i,  s = exp(log_std),
**                 and the squash_mean option (mu = c + h tanh(z) inside the
**                 action range [c - h, c + h]).
**
** Every function draws from the generator in a fixed order (one uniform per
** categorical sample, one normal per Gaussian dimension in index order), so
** an algorithm built on them repeats bit for bit.
*/
#ifndef LPDM_ALGOS_HEADS_H
#define LPDM_ALGOS_HEADS_H
#include "lpdm/lpdm.h"

#define HEAD_LOG_SQRT_2PI 0.91893853320467274178

/* A net of one linear layer from in to n outputs (caller frees). init NULL
   keeps layer.dense's default initialisation; otherwise init and gain are
   set (e.g. "orthogonal", 0.01 for a PPO policy head). Needs layer.dense
   in ctx's registry. */
int head_make(lpdm_ctx *ctx, lpdm_net **out, int in, int n, const char *init, double gain, lpdm_rng *rng,
              const lpdm_optim_cfg *oc);

/* ---- categorical (softmax) */
/* logsumexp(z[0..n-1]) = mx + log(sum_i exp(z_i - mx)), mx = max z. */
double cat_lse(const float *z, int n);
/* Draws an index from softmax(z) (one uniform draw). */
int cat_sample(lpdm_rng *rng, const float *z, int n);
/* log softmax(z)[a]; *H receives the entropy. */
double cat_logp(const float *z, int n, int a, double *H);
/* The first index of the largest logit (greedy action, DQN's argmax). */
int cat_argmax(const float *z, int n);
/* dz = d/dz [g log pi(a) - c inv H], i.e. dz_i = g ([i == a] - p_i) +
   c p_i (log p_i + H) inv (g carries its own 1/M; the entropy term is
   weighted by c inv). H is the entropy cat_logp gave. */
void cat_grad(const float *z, int n, int a, double H, double g, double c, double inv, float *dz);

/* ---- Gaussian */
typedef struct gauss_std {
  int n;          /* action dimensions                 */
  float *log_std; /* n values                           */
  float *grad;    /* n gradients (the loss adds to them) */
  lpdm_param param;
  lpdm_optim *opt; /* its own optimizer                  */
} gauss_std;
/* n log-stds at init, optimised by oc. Caller frees with gauss_std_free. */
int gauss_std_new(lpdm_ctx *ctx, int n, double init, const lpdm_optim_cfg *oc, gauss_std **out);
void gauss_std_free(gauss_std *g); /* accepts NULL */
/* Checkpoint part: "algo.log_std" (F32) and "algo.log_std_optim.*". */
int gauss_std_save(const gauss_std *g, lpdm_ctx *ctx, lpdm_st *st);
int gauss_std_load(gauss_std *g, lpdm_ctx *ctx, const lpdm_st *st);
/* mu (n) and log_std (n): log pi(a) and the entropy, in double. */
double gauss_logp(const float *mu, const float *log_std, const float *a, int n);
double gauss_entropy(const float *log_std, int n);
/* dmu = d/dmu [g log pi(a)], and dlogstd += d/dlog_std [g log pi(a) - c_inv H]:
   dmu_i = g x_i / s_i, dlogstd_i += g (x_i^2 - 1) - c_inv, x_i = (a_i - mu_i) / s_i. */
void gauss_grad(const float *mu, const float *log_std, const float *a, int n, double g, double c, double inv,
                float *dmu, float *dlogstd);
/* x_i = mu_i + exp(log_std_i) N(0, 1), i = 0..n-1 (n normal draws, in order). */
void gauss_draw(lpdm_rng *rng, const float *mu, const float *log_std, int n, double *x);
/* x clipped to the box's [low_i, high_i]. */
double box_clip(const lpdm_space *sp, int i, double x);
/* squash_mean: mu = (hi + lo)/2 + (hi - lo)/2 tanh(z), and dmu/dz. */
double head_squash(double z, double lo, double hi);
double head_squash_grad(double z, double lo, double hi);
/* The Gaussian head's figures: log_std_mean (over the n dimensions) and
   mu_abs_mean = mu_abs / mu_n (NaN without a step); a figures status. */
int gauss_figures(lpdm_figures *f, const float *log_std, int n, double mu_abs, double mu_n);

#endif
