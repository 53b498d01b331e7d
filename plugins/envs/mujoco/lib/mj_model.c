/* SPDX-License-Identifier: MIT */
/*
** mj_model.c -- the model cache of one MuJoCo env kind (see mj_env.h).
**
** The envs of one kind that use the same model file share one compiled,
** read-only mjModel. A kind's mjx_cache (a static in its plugin file,
** MJX_CACHE_INIT) lists the models in use, each with a reference count,
** behind the cache's mutex: envs may be created and freed from several
** threads. mjx_model_get takes a reference (loading and compiling the file
** the first time), mjx_model_put drops one, and the last user frees the
** model, so the cache is empty again once every env of the kind is freed.
*/
#include <stdio.h>
#include <string.h>

#include "mj_env.h"

mjx_model *mjx_model_get(mjx_cache *cache, const char *path, char *err, size_t errlen) {
  pthread_mutex_lock(&cache->lock);
  mjx_model *s = cache->models;
  while (s && strcmp(s->path, path) != 0) s = s->next;
  if (s) {
    s->refs++;
    pthread_mutex_unlock(&cache->lock);
    return s;
  }
  s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    pthread_mutex_unlock(&cache->lock);
    return NULL;
  }
  char mjerr[MJX_ERRLEN] = "";
  s->m = mj_loadXML(path, NULL, mjerr, (int)sizeof mjerr);
  if (!s->m) {
    for (size_t n = strlen(mjerr); n > 0 && (mjerr[n - 1] == '\n' || mjerr[n - 1] == ' '); n--)
      mjerr[n - 1] = '\0';
    for (char *c = mjerr; *c; c++)
      if (*c == '\n') *c = ' '; /* one line: "Error: ... Element 'geom', line 1" */
    snprintf(err, errlen, "cannot load the model %s: MuJoCo says: %s", path,
             mjerr[0] ? mjerr : "(no message)");
    free(s);
    pthread_mutex_unlock(&cache->lock);
    return NULL;
  }
  snprintf(s->path, sizeof s->path, "%s", path);
  s->cache = cache;
  s->refs = 1;
  s->next = cache->models;
  cache->models = s;
  pthread_mutex_unlock(&cache->lock);
  return s;
}

void mjx_model_put(mjx_model *s) {
  if (!s) return;
  mjx_cache *cache = s->cache;
  pthread_mutex_lock(&cache->lock);
  if (--s->refs == 0) {
    mjx_model **pp = &cache->models;
    while (*pp && *pp != s) pp = &(*pp)->next;
    if (*pp) *pp = s->next;
    mj_deleteModel(s->m);
    free(s);
  }
  pthread_mutex_unlock(&cache->lock);
}
