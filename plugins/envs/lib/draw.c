/* SPDX-License-Identifier: MIT */
/*
** draw.c -- filled polygons, circles and lines on an RGB24 canvas, for the
** env plugins' render_rgb (the interface and the coordinates: draw.h).
**
** HOW IT WORKS
**
** Every shape is a polygon. A polygon is scan-converted at 4 sub-rows per
** pixel row: on each sub-row (at y = row + (k + 0.5) / 4 in image
** coordinates) the crossings with the polygon's edges are sorted and the
** even-odd spans between them counted at 4 sub-columns per pixel. A pixel
** covered by m of its 16 samples becomes (bg * (16 - m) + col * m + 8) / 16
** per channel: anti-aliased edges, in integers, so the bytes depend on the
** scene only. Shapes are drawn in order, each over the previous ones.
*/
#include "lib/draw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUB 4          /* samples per pixel along each axis */
#define MAXPTS 128     /* points of one polygon (a circle uses 64) */
#define MAXW 8192      /* widest canvas (the host checks) */

void lpdm_cv_begin(lpdm_canvas *c, unsigned char *rgb, int w, int h, double nat_w, double nat_h,
                   lpdm_rgb bg) {
  c->rgb = rgb;
  c->w = w;
  c->h = h;
  c->sx = w / nat_w;
  c->sy = h / nat_h;
  c->nh = nat_h;
  for (size_t i = 0, n = (size_t)w * (size_t)h; i < n; i++) {
    rgb[3 * i] = bg.r;
    rgb[3 * i + 1] = bg.g;
    rgb[3 * i + 2] = bg.b;
  }
}

static void blend_row(lpdm_canvas *c, int y, int x0, int x1, const unsigned char *cov,
                      lpdm_rgb col) {
  unsigned char *p = c->rgb + ((size_t)y * (size_t)c->w + (size_t)x0) * 3;
  const int full = SUB * SUB;
  for (int x = x0; x <= x1; x++, p += 3) {
    int m = cov[x - x0];
    if (!m) continue;
    p[0] = (unsigned char)((p[0] * (full - m) + col.r * m + full / 2) / full);
    p[1] = (unsigned char)((p[1] * (full - m) + col.g * m + full / 2) / full);
    p[2] = (unsigned char)((p[2] * (full - m) + col.b * m + full / 2) / full);
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

void lpdm_cv_polygon(lpdm_canvas *c, const double *xy, int n, lpdm_rgb col) {
  if (n < 3 || n > MAXPTS) return;
  double px[MAXPTS], py[MAXPTS], xs[MAXPTS];
  double minx = HUGE_VAL, maxx = -HUGE_VAL, miny = HUGE_VAL, maxy = -HUGE_VAL;
  for (int i = 0; i < n; i++) { /* natural frame (y up) -> image (y down) */
    px[i] = xy[2 * i] * c->sx;
    py[i] = (c->nh - xy[2 * i + 1]) * c->sy;
    if (!isfinite(px[i]) || !isfinite(py[i])) return;
    minx = fmin(minx, px[i]);
    maxx = fmax(maxx, px[i]);
    miny = fmin(miny, py[i]);
    maxy = fmax(maxy, py[i]);
  }
  int x0 = (int)fmax(0, floor(minx)), x1 = (int)fmin(c->w - 1, floor(maxx));
  int y0 = (int)fmax(0, floor(miny)), y1 = (int)fmin(c->h - 1, floor(maxy));
  if (x0 > x1 || y0 > y1) return;
  unsigned char cov[MAXW];
  for (int y = y0; y <= y1; y++) {
    memset(cov, 0, (size_t)(x1 - x0 + 1));
    for (int k = 0; k < SUB; k++) {
      double sy = y + (k + 0.5) / SUB;
      int m = 0;
      for (int i = 0, j = n - 1; i < n; j = i++) { /* edge j -> i crosses the sub-row? */
        if ((py[i] <= sy) != (py[j] <= sy))
          xs[m++] = px[j] + (sy - py[j]) * (px[i] - px[j]) / (py[i] - py[j]);
      }
      if (m < 2) continue;
      qsort(xs, (size_t)m, sizeof xs[0], cmp_double);
      for (int s = 0; s + 1 < m; s += 2) { /* samples at x + (q + 0.5) / SUB within [a, b) */
        double a = xs[s], b = xs[s + 1];
        int qa = (int)ceil(a * SUB - 0.5), qb = (int)ceil(b * SUB - 0.5) - 1;
        if (qa < x0 * SUB) qa = x0 * SUB;
        if (qb > x1 * SUB + SUB - 1) qb = x1 * SUB + SUB - 1;
        for (int q = qa; q <= qb; q++) cov[q / SUB - x0]++;
      }
    }
    blend_row(c, y, x0, x1, cov, col);
  }
}

void lpdm_cv_circle(lpdm_canvas *c, double x, double y, double r, lpdm_rgb col) {
  enum { N = 64 };
  double p[2 * N];
  for (int i = 0; i < N; i++) {
    double a = 2 * 3.14159265358979323846 * i / N;
    p[2 * i] = x + r * cos(a);
    p[2 * i + 1] = y + r * sin(a);
  }
  lpdm_cv_polygon(c, p, N, col);
}

void lpdm_cv_line(lpdm_canvas *c, double x0, double y0, double x1, double y1, double width,
                  lpdm_rgb col) {
  double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy);
  if (!(len > 0)) return;
  double nx = -dy / len * width / 2, ny = dx / len * width / 2;
  const double q[8] = {x0 + nx, y0 + ny, x1 + nx, y1 + ny, x1 - nx, y1 - ny, x0 - nx, y0 - ny};
  lpdm_cv_polygon(c, q, 4, col);
}

void lpdm_cv_rotate(double *xy, int n, double a, double dx, double dy) {
  double ca = cos(a), sa = sin(a);
  for (int i = 0; i < n; i++) {
    double x = xy[2 * i], y = xy[2 * i + 1];
    xy[2 * i] = x * ca - y * sa + dx;
    xy[2 * i + 1] = x * sa + y * ca + dy;
  }
}
