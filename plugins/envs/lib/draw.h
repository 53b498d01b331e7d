/* SPDX-License-Identifier: MIT */
/*
** draw.h -- 2-D drawing for the env plugins' images (render_rgb): the
** interface of the private static library plugins/envs/lib/ (built into
** lpdm_plugins_envs_lib, linked into each env plugin of plugins/envs/;
** nothing here is exported).
**
** WHAT IT IS
**
** A canvas over a caller's RGB24 buffer (rows top-down) and a few shapes:
** filled polygons, circles (as 64-gons) and lines (as thin quads), each
** anti-aliased by 4 x 4 coverage samples per pixel, blended in integers,
** so one scene always gives the same bytes on every machine. That is all
** Gymnasium's classic-control pictures need (pygame's gfxdraw polygons,
** circles and lines) and what MinAtar's grid needs (rectangles).
**
** COORDINATES. A scene is drawn in its natural frame: Gymnasium's window
** size in pixels (CartPole 600 x 400, say), x to the right, y UP from the
** bottom edge -- Gymnasium draws on a pygame surface with y up and flips it
** before returning the image, and the env files use its numbers as they
** are. The canvas scales the natural frame to the size asked for
** (sx = width / natural width, sy = height / natural height), so any size
** shows the same picture.
**
** HOW TO USE IT (an env's render_rgb)
**
**   lpdm_canvas c;
**   lpdm_cv_begin(&c, rgb, width, height, 600, 400, LPDM_WHITE);
**   const double cart[8] = {x0, y0, x0, y1, x1, y1, x1, y0};
**   lpdm_cv_polygon(&c, cart, 4, LPDM_BLACK);
**   lpdm_cv_circle(&c, ax, ay, 5, (lpdm_rgb){129, 132, 203});
**   lpdm_cv_line(&c, 0, 100.5, 600, 100.5, 1, LPDM_BLACK);
*/
#ifndef LPDM_ENVS_DRAW_H
#define LPDM_ENVS_DRAW_H

typedef struct lpdm_rgb {
  unsigned char r, g, b;
} lpdm_rgb;

#define LPDM_WHITE ((lpdm_rgb){255, 255, 255})
#define LPDM_BLACK ((lpdm_rgb){0, 0, 0})

typedef struct lpdm_canvas {
  unsigned char *rgb; /* w * h * 3 bytes, rows top-down (borrowed) */
  int w, h;
  double sx, sy;      /* image pixels per natural unit */
  double nh;          /* natural height (y up: image y = (nh - y) * sy) */
} lpdm_canvas;

/* Starts a picture: the natural frame nat_w x nat_h onto w x h pixels,
   filled with bg. */
void lpdm_cv_begin(lpdm_canvas *c, unsigned char *rgb, int w, int h, double nat_w, double nat_h,
                   lpdm_rgb bg);
/* A filled polygon of n points (x0, y0, x1, y1, ...), even-odd rule. */
void lpdm_cv_polygon(lpdm_canvas *c, const double *xy, int n, lpdm_rgb col);
/* A filled circle. */
void lpdm_cv_circle(lpdm_canvas *c, double x, double y, double r, lpdm_rgb col);
/* A line of the given width (natural units) from (x0, y0) to (x1, y1). */
void lpdm_cv_line(lpdm_canvas *c, double x0, double y0, double x1, double y1, double width,
                  lpdm_rgb col);
/* Points (x, y) rotated by angle a (radians, counterclockwise with y up,
   as pygame's Vector2.rotate_rad) and moved by (dx, dy), in place. */
void lpdm_cv_rotate(double *xy, int n, double a, double dx, double dy);

/* scenes.c: Gymnasium's mountain-car picture (MountainCar-v0 and
   MountainCarContinuous-v0) for a car at pos on [lo, hi], the flag at goal. */
void lpdm_draw_mountain_car(unsigned char *rgb, int width, int height, double pos, double lo, double hi,
                            double goal);

#endif
