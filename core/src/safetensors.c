/* SPDX-License-Identifier: MIT */
/* safetensors.c -- reading and writing the safetensors format
   (https://github.com/huggingface/safetensors): 8 bytes of little-endian
   header length N, N bytes of JSON
       {"__metadata__": {"key": "value", ...},
        "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
   then the tensors' bytes, little-endian, each at its offsets relative to
   the end of the header.

   A checkpoint is data from anywhere, so the reader trusts nothing: the
   header length is checked against the file size (and a 64 MiB cap), the
   JSON is parsed by a small strict parser (objects, strings, non-negative
   integers; depth 2; no duplicate names), every tensor's dtype must be
   known, its shape's element count times the dtype size must equal its
   byte range (overflow-checked), the ranges must lie inside the data and
   not overlap, and a tensor count or name length beyond fixed bounds is
   refused. Every refusal names the file and what is wrong. Nothing is
   allocated from a size that was not first checked against the file.

   Metadata values are any text (JSON, several lines): the writer escapes
   quotes, backslashes and control characters in the header, the reader unescapes
   them; keys and tensor names stay printable without quotes.

   The writer sorts nothing (tensors keep the order they were added in),
   writes to "<path>.tmp", flushes and fsyncs it, and renames it over the
   path: a crash leaves the old file or the new one, never a torn one. A
   failed write (a full disk) removes the temporary file and names it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define ST_MAX_HEADER (64u << 20)
#define ST_MAX_TENSORS 65536
#define ST_MAX_META 1024

typedef struct st_tensor {
  char *name;
  int dtype, ndim;
  int64_t shape[LPDM_ST_MAX_DIMS];
  size_t begin, end; /* byte range in data */
} st_tensor;

struct lpdm_st {
  st_tensor *t;
  int n, cap;
  char **mk, **mv;
  int nmeta;
  unsigned char *data;
  size_t len, dcap;
};

static const struct {
  const char *name;
  int size;
} dtypes[] = {{NULL, 0},  {"F32", 4}, {"F64", 8}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4}, {"U8", 1}};

const char *lpdm_st_dtype_name(int dtype) {
  return dtype > 0 && dtype < (int)(sizeof dtypes / sizeof *dtypes) ? dtypes[dtype].name : "?";
}
int lpdm_st_dtype_size(int dtype) {
  return dtype > 0 && dtype < (int)(sizeof dtypes / sizeof *dtypes) ? dtypes[dtype].size : 0;
}

static int little_endian(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

int lpdm_st_new(lpdm_ctx *ctx, lpdm_st **out) {
  *out = calloc(1, sizeof **out);
  if (!*out) return lpdm_error(ctx, LPDM_ERR_MEM, "safetensors: out of memory");
  return LPDM_OK;
}

void lpdm_st_free(lpdm_st *st) {
  if (!st) return;
  for (int i = 0; i < st->n; i++) free(st->t[i].name);
  for (int i = 0; i < st->nmeta; i++) {
    free(st->mk[i]);
    free(st->mv[i]);
  }
  free(st->t);
  free(st->mk);
  free(st->mv);
  free(st->data);
  free(st);
}

int lpdm_st_count(const lpdm_st *st) { return st->n; }
const char *lpdm_st_name(const lpdm_st *st, int i) { return i >= 0 && i < st->n ? st->t[i].name : NULL; }

static int find(const lpdm_st *st, const char *name) {
  for (int i = 0; i < st->n; i++)
    if (!strcmp(st->t[i].name, name)) return i;
  return -1;
}

const void *lpdm_st_get(const lpdm_st *st, const char *name, int *dtype, int *ndim, const int64_t **shape,
                        size_t *nbytes) {
  int i = find(st, name);
  if (i < 0) return NULL;
  const st_tensor *t = &st->t[i];
  if (dtype) *dtype = t->dtype;
  if (ndim) *ndim = t->ndim;
  if (shape) *shape = t->shape;
  if (nbytes) *nbytes = t->end - t->begin;
  /* a file whose tensors are all empty has no data buffer: a found tensor
     is still not NULL (NULL means not found), and no offset is applied to
     a null pointer */
  static const unsigned char none[1];
  return st->data ? (const void *)(st->data + t->begin) : (const void *)none;
}

const char *lpdm_st_meta_key(const lpdm_st *st, int i) { return i >= 0 && i < st->nmeta ? st->mk[i] : NULL; }

const char *lpdm_st_meta(const lpdm_st *st, const char *key) {
  for (int i = 0; i < st->nmeta; i++)
    if (!strcmp(st->mk[i], key)) return st->mv[i];
  return NULL;
}

/* ------------------------------------------------------------ building */

/* Element count of a shape times size, or 0 with *bad on overflow. */
static size_t shape_bytes(int ndim, const int64_t *shape, int size, int *bad) {
  size_t n = (size_t)size;
  *bad = 0;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0 || (shape[d] > 0 && n > SIZE_MAX / (size_t)shape[d])) {
      *bad = 1;
      return 0;
    }
    n *= (size_t)shape[d];
  }
  return n;
}

static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= LPDM_ST_NAMELEN) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\') return 0;
  return 1;
}

int lpdm_st_add(lpdm_st *st, lpdm_ctx *ctx, const char *name, int dtype, int ndim, const int64_t *shape,
                const void *data) {
  if (!valid_name(name) || !strcmp(name, "__metadata__"))
    return lpdm_error(ctx, LPDM_ERR_ARG, "safetensors: bad tensor name '%s' (1..%d printable characters, no quotes)",
                      name, LPDM_ST_NAMELEN - 1);
  if (find(st, name) >= 0) return lpdm_error(ctx, LPDM_ERR_ARG, "safetensors: tensor '%s' added twice", name);
  int size = lpdm_st_dtype_size(dtype), bad;
  if (!size) return lpdm_error(ctx, LPDM_ERR_ARG, "safetensors: tensor '%s': unknown dtype %d", name, dtype);
  if (ndim < 0 || ndim > LPDM_ST_MAX_DIMS)
    return lpdm_error(ctx, LPDM_ERR_ARG, "safetensors: tensor '%s': %d dimensions (at most %d)", name, ndim,
                      LPDM_ST_MAX_DIMS);
  size_t nb = shape_bytes(ndim, shape, size, &bad);
  if (bad || st->n >= ST_MAX_TENSORS)
    return lpdm_error(ctx, LPDM_ERR_ARG, "safetensors: tensor '%s': bad shape or too many tensors", name);
  if (st->n == st->cap) {
    int nc = st->cap ? 2 * st->cap : 16;
    st_tensor *nt = realloc(st->t, (size_t)nc * sizeof *nt);
    if (!nt) return lpdm_error(ctx, LPDM_ERR_MEM, "safetensors: out of memory");
    st->t = nt;
    st->cap = nc;
  }
  if (st->len + nb > st->dcap) {
    size_t nc = st->dcap ? st->dcap : 4096;
    while (nc < st->len + nb) nc *= 2;
    unsigned char *nd = realloc(st->data, nc);
    if (!nd) return lpdm_error(ctx, LPDM_ERR_MEM, "safetensors: out of memory (%zu bytes)", nc);
    st->data = nd;
    st->dcap = nc;
  }
  st_tensor *t = &st->t[st->n];
  memset(t, 0, sizeof *t);
  if (!(t->name = strdup(name))) return lpdm_error(ctx, LPDM_ERR_MEM, "safetensors: out of memory");
  t->dtype = dtype;
  t->ndim = ndim;
  for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
  t->begin = st->len;
  t->end = st->len + nb;
  if (nb) memcpy(st->data + st->len, data, nb);
  st->len += nb;
  st->n++;
  return LPDM_OK;
}

int lpdm_st_set_meta(lpdm_st *st, lpdm_ctx *ctx, const char *key, const char *value) {
  if (!valid_name(key) || strlen(value) >= 65536)
    return lpdm_error(ctx, LPDM_ERR_ARG, "safetensors: bad metadata '%s' (a key of 1..%d printable characters, no quotes; "
                      "a value under 64 KiB)", key, LPDM_ST_NAMELEN - 1);
  for (int i = 0; i < st->nmeta; i++)
    if (!strcmp(st->mk[i], key)) {
      char *v = strdup(value);
      if (!v) return lpdm_error(ctx, LPDM_ERR_MEM, "safetensors: out of memory");
      free(st->mv[i]);
      st->mv[i] = v;
      return LPDM_OK;
    }
  if (st->nmeta >= ST_MAX_META) return lpdm_error(ctx, LPDM_ERR_ARG, "safetensors: too many metadata entries");
  char **nk = realloc(st->mk, (size_t)(st->nmeta + 1) * sizeof *nk);
  if (!nk) return lpdm_error(ctx, LPDM_ERR_MEM, "safetensors: out of memory");
  st->mk = nk;
  char **nv = realloc(st->mv, (size_t)(st->nmeta + 1) * sizeof *nv);
  if (!nv) return lpdm_error(ctx, LPDM_ERR_MEM, "safetensors: out of memory");
  st->mv = nv;
  st->mk[st->nmeta] = strdup(key);
  st->mv[st->nmeta] = strdup(value);
  if (!st->mk[st->nmeta] || !st->mv[st->nmeta]) {
    free(st->mk[st->nmeta]);
    free(st->mv[st->nmeta]);
    return lpdm_error(ctx, LPDM_ERR_MEM, "safetensors: out of memory");
  }
  st->nmeta++;
  return LPDM_OK;
}

/* ------------------------------------------------------------ writing */

typedef struct sbuf {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 1024;
    while (nc < b->n + n + 1) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = nc;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
/* A metadata value inside its JSON quotes: ", \ and control characters
   escaped (a value without them is written as is). */
static void sb_jstr(sbuf *b, const char *s) {
  for (const char *c = s;; c++) {
    const unsigned char u = (unsigned char)*c;
    if (u && u >= 0x20 && u != '"' && u != '\\') continue;
    sb_put(b, s, (size_t)(c - s));
    if (!u) return;
    char e[8];
    int k = u == '"' || u == '\\' ? snprintf(e, sizeof e, "\\%c", u) : snprintf(e, sizeof e, "\\u%04x", u);
    sb_put(b, e, (size_t)k);
    s = c + 1;
  }
}
static void sb_fmt(sbuf *b, const char *fmt, unsigned long long v) {
  char t[32];
  int k = snprintf(t, sizeof t, fmt, v);
  sb_put(b, t, (size_t)k);
}

static int write_all(int fd, const void *p, size_t n) {
  const unsigned char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

int lpdm_st_write(const lpdm_st *st, lpdm_ctx *ctx, const char *path) {
  if (!path || !*path) return lpdm_error(ctx, LPDM_ERR_ARG, "cannot write a checkpoint to an empty path");
  if (!little_endian()) return lpdm_error(ctx, LPDM_ERR_IO, "%s: safetensors is little-endian; this host is not", path);
  sbuf h = {0};
  sb_str(&h, "{");
  int first = 1;
  if (st->nmeta) {
    sb_str(&h, "\"__metadata__\":{");
    for (int i = 0; i < st->nmeta; i++) {
      sb_str(&h, i ? ",\"" : "\"");
      sb_str(&h, st->mk[i]);
      sb_str(&h, "\":\"");
      sb_jstr(&h, st->mv[i]);
      sb_str(&h, "\"");
    }
    sb_str(&h, "}");
    first = 0;
  }
  for (int i = 0; i < st->n; i++) {
    const st_tensor *t = &st->t[i];
    sb_str(&h, first ? "\"" : ",\"");
    first = 0;
    sb_str(&h, t->name);
    sb_str(&h, "\":{\"dtype\":\"");
    sb_str(&h, lpdm_st_dtype_name(t->dtype));
    sb_str(&h, "\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++) sb_fmt(&h, d ? ",%llu" : "%llu", (unsigned long long)t->shape[d]);
    sb_fmt(&h, "],\"data_offsets\":[%llu", (unsigned long long)t->begin);
    sb_fmt(&h, ",%llu]}", (unsigned long long)t->end);
  }
  sb_str(&h, "}");
  while (!h.oom && h.n % 8) sb_str(&h, " "); /* the data starts 8-aligned, as the format recommends */
  if (h.oom) {
    free(h.p);
    return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory for the header", path);
  }
  unsigned char len8[8];
  for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)h.n >> (8 * k));

  size_t pl = strlen(path);
  char *tmp = malloc(pl + 5);
  if (!tmp) {
    free(h.p);
    return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  }
  memcpy(tmp, path, pl);
  memcpy(tmp + pl, ".tmp", 5);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    free(h.p);
    int rc = lpdm_error(ctx, LPDM_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
    free(tmp);
    return rc;
  }
  int bad = write_all(fd, len8, 8) || write_all(fd, h.p, h.n) || (st->len && write_all(fd, st->data, st->len)) ||
            fsync(fd);
  int e = errno;
  if (close(fd) && !bad) bad = 1, e = errno;
  free(h.p);
  if (bad) {
    unlink(tmp);
    int rc = lpdm_error(ctx, LPDM_ERR_IO, "cannot write %s: %s (the previous %s, if any, is untouched)", tmp,
                        strerror(e), path);
    free(tmp);
    return rc;
  }
  if (rename(tmp, path)) {
    e = errno;
    unlink(tmp);
    int rc = lpdm_error(ctx, LPDM_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    free(tmp);
    return rc;
  }
  free(tmp);
  return LPDM_OK;
}

/* ------------------------------------------------------------ parsing */

typedef struct jp {
  const char *s, *end;
  lpdm_ctx *ctx;
  const char *why; /* a syntax error (static text), or NULL */
  int rc;
} jp;

static int jfail(jp *j, const char *why) {
  if (!j->rc) {
    j->why = why;
    j->rc = LPDM_ERR_IO;
  }
  return j->rc;
}

static void ws(jp *j) {
  while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')) j->s++;
}

static int expect(jp *j, char c) {
  static const char *const msgs[] = {"expected '{'", "expected '}'", "expected '['", "expected ']'",
                                     "expected ':'", "expected ','", "expected '\"'"};
  static const char chars[] = "{}[]:,\"";
  ws(j);
  if (j->s >= j->end || *j->s != c) return jfail(j, msgs[strchr(chars, c) - chars]);
  j->s++;
  return 0;
}

static int peek(jp *j, char c) {
  ws(j);
  return j->s < j->end && *j->s == c;
}

/* A JSON string into out (at most cap-1 bytes; longer is an error). Only
   the simple escapes and \u00XX..\u007F (ASCII) are accepted. */
static int jstring(jp *j, char *out, size_t cap) {
  if (expect(j, '"')) return j->rc;
  size_t n = 0;
  while (j->s < j->end && *j->s != '"') {
    unsigned char c = (unsigned char)*j->s++;
    if (c < 0x20) return jfail(j, "control character in a string");
    if (c == '\\') {
      if (j->s >= j->end) return jfail(j, "unterminated escape");
      char e = *j->s++;
      switch (e) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
          if (j->end - j->s < 4) return jfail(j, "short \\u escape");
          unsigned v = 0;
          for (int k = 0; k < 4; k++) {
            char h = *j->s++;
            v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                    : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 99);
            if (v > 0xffff) return jfail(j, "bad \\u escape");
          }
          if (v == 0 || v > 0x7f) return jfail(j, "\\u escape outside ASCII");
          c = (unsigned char)v;
          break;
        }
        default: return jfail(j, "unknown escape");
      }
    }
    if (n + 1 >= cap) return jfail(j, "string too long");
    out[n++] = (char)c;
  }
  if (j->s >= j->end) return jfail(j, "unterminated string");
  j->s++;
  out[n] = 0;
  return 0;
}

/* A non-negative integer below 2^62. */
static int juint(jp *j, uint64_t *v) {
  ws(j);
  if (j->s >= j->end || *j->s < '0' || *j->s > '9') return jfail(j, "expected a non-negative integer");
  uint64_t x = 0;
  int digits = 0;
  while (j->s < j->end && *j->s >= '0' && *j->s <= '9') {
    x = x * 10 + (uint64_t)(*j->s++ - '0');
    if (++digits > 18) return jfail(j, "integer too large");
  }
  if (j->s < j->end && (*j->s == '.' || *j->s == 'e' || *j->s == 'E')) return jfail(j, "expected an integer");
  *v = x;
  return 0;
}

static int parse_meta(jp *j, lpdm_st *st) {
  if (expect(j, '{')) return j->rc;
  if (peek(j, '}')) return expect(j, '}');
  for (;;) {
    char k[LPDM_ST_NAMELEN], *v = malloc(65536);
    if (!v) return j->rc = lpdm_error(j->ctx, LPDM_ERR_MEM, "out of memory");
    int bad = jstring(j, k, sizeof k) || expect(j, ':') || jstring(j, v, 65536);
    if (!bad && lpdm_st_meta(st, k)) bad = jfail(j, "duplicate metadata key");
    if (!bad && !valid_name(k)) bad = jfail(j, "bad metadata key");
    if (!bad && lpdm_st_set_meta(st, j->ctx, k, v)) bad = j->rc = LPDM_ERR_IO;
    free(v);
    if (bad) return j->rc ? j->rc : LPDM_ERR_IO;
    if (peek(j, ',')) {
      j->s++;
      continue;
    }
    return expect(j, '}');
  }
}

static int parse_tensor(jp *j, st_tensor *t) {
  int have_d = 0, have_s = 0, have_o = 0;
  if (expect(j, '{')) return j->rc;
  for (;;) {
    char k[32];
    if (jstring(j, k, sizeof k) || expect(j, ':')) return j->rc;
    if (!strcmp(k, "dtype") && !have_d) {
      char d[16];
      if (jstring(j, d, sizeof d)) return j->rc;
      t->dtype = 0;
      for (int i = 1; i < (int)(sizeof dtypes / sizeof *dtypes); i++)
        if (!strcmp(d, dtypes[i].name)) t->dtype = i;
      if (!t->dtype) return jfail(j, "unknown dtype (F32 F64 I64 U64 I32 U32 U8)");
      have_d = 1;
    } else if (!strcmp(k, "shape") && !have_s) {
      if (expect(j, '[')) return j->rc;
      t->ndim = 0;
      if (!peek(j, ']'))
        for (;;) {
          uint64_t v;
          if (t->ndim >= LPDM_ST_MAX_DIMS) return jfail(j, "too many dimensions");
          if (juint(j, &v)) return j->rc;
          t->shape[t->ndim++] = (int64_t)v;
          if (peek(j, ',')) {
            j->s++;
            continue;
          }
          break;
        }
      if (expect(j, ']')) return j->rc;
      have_s = 1;
    } else if (!strcmp(k, "data_offsets") && !have_o) {
      uint64_t a, b;
      if (expect(j, '[') || juint(j, &a) || expect(j, ',') || juint(j, &b) || expect(j, ']')) return j->rc;
      if (b < a) return jfail(j, "data_offsets end before they begin");
      t->begin = (size_t)a;
      t->end = (size_t)b;
      have_o = 1;
    } else
      return jfail(j, "unknown or repeated field in a tensor (dtype, shape, data_offsets)");
    if (peek(j, ',')) {
      j->s++;
      continue;
    }
    if (expect(j, '}')) return j->rc;
    break;
  }
  if (!have_d || !have_s || !have_o) return jfail(j, "a tensor needs dtype, shape and data_offsets");
  return 0;
}

static int cmp_begin(const void *a, const void *b) {
  const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

int lpdm_st_parse(lpdm_ctx *ctx, const void *buf, size_t len, const char *what, lpdm_st **out) {
  *out = NULL;
  const unsigned char *b = buf;
  if (!little_endian()) return lpdm_error(ctx, LPDM_ERR_IO, "%s: safetensors is little-endian; this host is not", what);
  if (len < 8) return lpdm_error(ctx, LPDM_ERR_IO, "%s: not a safetensors file (%zu bytes, shorter than its 8-byte header length)", what, len);
  uint64_t hl = 0;
  for (int k = 7; k >= 0; k--) hl = (hl << 8) | b[k];
  if (hl >= 2 && hl <= ST_MAX_HEADER && hl > len - 8)
    return lpdm_error(ctx, LPDM_ERR_IO,
                      "%s: the file is truncated: its header alone needs %llu bytes, but the file has %zu in all "
                      "(was it copied or written only in part?)",
                      what, (unsigned long long)hl + 8, len);
  if (hl < 2 || hl > len - 8 || hl > ST_MAX_HEADER)
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: header length %llu does not fit the file (%zu bytes) or exceeds %u", what,
                      (unsigned long long)hl, len, ST_MAX_HEADER);
  lpdm_st *st = NULL;
  int rc = lpdm_st_new(ctx, &st);
  if (rc) return rc;
  jp j = {(const char *)b + 8, (const char *)b + 8 + hl, ctx, NULL, 0};
  const char *hstart = j.s;
  char *name = malloc(LPDM_ST_NAMELEN);
  if (!name) {
    lpdm_st_free(st);
    return lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
  }
  if (expect(&j, '{')) goto bad;
  if (!peek(&j, '}'))
    for (;;) {
      if (jstring(&j, name, LPDM_ST_NAMELEN) || expect(&j, ':')) goto bad;
      if (!strcmp(name, "__metadata__")) {
        if (st->nmeta || parse_meta(&j, st)) {
          if (!j.rc) jfail(&j, "__metadata__ twice");
          goto bad;
        }
      } else {
        if (!valid_name(name)) {
          jfail(&j, "bad tensor name");
          goto bad;
        }
        if (find(st, name) >= 0) {
          jfail(&j, "a tensor name appears twice");
          goto bad;
        }
        if (st->n >= ST_MAX_TENSORS) {
          jfail(&j, "too many tensors");
          goto bad;
        }
        if (st->n == st->cap) {
          int nc = st->cap ? 2 * st->cap : 16;
          st_tensor *nt = realloc(st->t, (size_t)nc * sizeof *nt);
          if (!nt) {
            j.rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
            goto bad;
          }
          st->t = nt;
          st->cap = nc;
        }
        st_tensor *t = &st->t[st->n];
        memset(t, 0, sizeof *t);
        if (parse_tensor(&j, t)) goto bad;
        if (!(t->name = strdup(name))) {
          j.rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
          goto bad;
        }
        st->n++;
      }
      if (peek(&j, ',')) {
        j.s++;
        continue;
      }
      break;
    }
  if (expect(&j, '}')) goto bad;
  ws(&j);
  if (j.s != j.end) {
    jfail(&j, "trailing bytes after the JSON object");
    goto bad;
  }
  free(name);
  name = NULL;
  /* sizes and ranges */
  size_t dlen = len - 8 - (size_t)hl;
  { /* a file cut short (a copy or a write that stopped) ends before its last tensor */
    size_t last = 0;
    int consistent = 1; /* every tensor's offsets span what its shape needs (else: a bad header, below) */
    for (int i = 0; i < st->n; i++) {
      const st_tensor *t = &st->t[i];
      int over;
      if (t->end - t->begin != shape_bytes(t->ndim, t->shape, lpdm_st_dtype_size(t->dtype), &over) || over)
        consistent = 0;
      if (t->end > last) last = t->end;
    }
    if (consistent && last > dlen) {
      rc = lpdm_error(ctx, LPDM_ERR_IO,
                      "%s: the file is truncated: its header describes %zu bytes of tensors, but only %zu follow "
                      "(%zu bytes missing; was it copied or written only in part?)",
                      what, last, dlen, last - dlen);
      goto fail;
    }
  }
  for (int i = 0; i < st->n; i++) {
    st_tensor *t = &st->t[i];
    int over;
    size_t nb = shape_bytes(t->ndim, t->shape, lpdm_st_dtype_size(t->dtype), &over);
    if (over || t->end > dlen || t->end - t->begin != nb) {
      rc = lpdm_error(ctx, LPDM_ERR_IO,
                      "%s: tensor '%s' (%s, %d dims) claims bytes [%zu, %zu) of the %zu data bytes, but its shape needs %zu%s", what,
                      t->name, lpdm_st_dtype_name(t->dtype), t->ndim, t->begin, t->end, dlen, nb,
                      over ? " (overflow)" : "");
      goto fail;
    }
  }
  if (st->n > 1) {
    st_tensor **ord = malloc((size_t)st->n * sizeof *ord);
    if (!ord) {
      rc = lpdm_error(ctx, LPDM_ERR_MEM, "out of memory");
      goto fail;
    }
    for (int i = 0; i < st->n; i++) ord[i] = &st->t[i];
    qsort(ord, (size_t)st->n, sizeof *ord, cmp_begin);
    for (int i = 1; i < st->n; i++)
      if (ord[i]->begin < ord[i - 1]->end) {
        rc = lpdm_error(ctx, LPDM_ERR_IO, "%s: tensors '%s' and '%s' overlap", what, ord[i - 1]->name, ord[i]->name);
        free(ord);
        goto fail;
      }
    free(ord);
  }
  if (dlen) {
    st->data = malloc(dlen);
    if (!st->data) {
      rc = lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory for %zu bytes of tensors", what, dlen);
      goto fail;
    }
    memcpy(st->data, b + 8 + hl, dlen);
  }
  st->len = st->dcap = dlen;
  *out = st;
  return LPDM_OK;
bad:
  if (j.why)
    rc = lpdm_error(ctx, LPDM_ERR_IO, "%s: bad safetensors header at byte %zu of %llu: %s", what,
                    (size_t)(j.s - hstart), (unsigned long long)hl, j.why);
  else
    rc = j.rc ? j.rc : lpdm_error(ctx, LPDM_ERR_IO, "%s: bad safetensors header", what);
fail:
  free(name);
  lpdm_st_free(st);
  return rc;
}

int lpdm_st_read(lpdm_ctx *ctx, const char *path, lpdm_st **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return lpdm_error(ctx, LPDM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  if (fseek(f, 0, SEEK_END)) {
    fclose(f);
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: cannot seek (not a regular file?)", path);
  }
  long sz = ftell(f);
  if (sz < 0 || fseek(f, 0, SEEK_SET)) {
    fclose(f);
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: cannot tell its size", path);
  }
  unsigned char *buf = malloc(sz ? (size_t)sz : 1);
  if (!buf) {
    fclose(f);
    return lpdm_error(ctx, LPDM_ERR_MEM, "%s: out of memory for %ld bytes", path, sz);
  }
  size_t got = fread(buf, 1, (size_t)sz, f);
  fclose(f);
  if (got != (size_t)sz) {
    free(buf);
    return lpdm_error(ctx, LPDM_ERR_IO, "%s: short read (%zu of %ld bytes)", path, got, sz);
  }
  int rc = lpdm_st_parse(ctx, buf, (size_t)sz, path, out);
  free(buf);
  return rc;
}
