/* SPDX-License-Identifier: MIT */
/*
** scenes.c -- pictures that more than one env draws (draw.h declares them):
** MountainCar-v0 and MountainCarContinuous-v0 share Gymnasium's picture, the
** hill, the car and the flag, and differ only in where the flag stands.
*/
#include <math.h>

#include "lib/draw.h"

static double hill(double x) { return sin(3 * x) * 0.45 + 0.55; }

/* Gymnasium's mountain-car picture: a 600 x 400 white window, scale = 600 /
   (hi - lo) px per unit, the hill 0.45 sin(3 x) + 0.55 as a black line
   through 100 points, the car a black 40 x 20 box 10 px above the curve,
   tilted by cos(3 x), on two grey (128, 128, 128) wheels of radius 8, and
   the goal's flag: a black pole 50 px high with a (204, 204, 0) triangle. */
void lpdm_draw_mountain_car(unsigned char *rgb, int width, int height, double pos, double lo, double hi,
                            double goal) {
  const double scale = 600 / (hi - lo);
  lpdm_canvas cv;
  lpdm_cv_begin(&cv, rgb, width, height, 600, 400, LPDM_WHITE);
  double px = 0, py = 0;
  for (int i = 0; i < 100; i++) { /* np.linspace(lo, hi, 100) */
    double x = lo + (hi - lo) * i / 99.0;
    double sx = (x - lo) * scale, sy = hill(x) * scale;
    if (i) lpdm_cv_line(&cv, px, py, sx, sy, 1, LPDM_BLACK);
    px = sx;
    py = sy;
  }
  const double cx = (pos - lo) * scale, cy = 10 + hill(pos) * scale, tilt = cos(3 * pos);
  double car[8] = {-20, 0, -20, 20, 20, 20, 20, 0};
  lpdm_cv_rotate(car, 4, tilt, cx, cy);
  lpdm_cv_polygon(&cv, car, 4, LPDM_BLACK);
  double wheels[4] = {40 / 4.0, 0, -40 / 4.0, 0};
  lpdm_cv_rotate(wheels, 2, tilt, cx, cy);
  for (int i = 0; i < 2; i++)
    lpdm_cv_circle(&cv, (int)wheels[2 * i], (int)wheels[2 * i + 1], (int)(20 / 2.5), (lpdm_rgb){128, 128, 128});
  const int flagx = (int)((goal - lo) * scale), flagy1 = (int)(hill(goal) * scale);
  const int flagy2 = flagy1 + 50;
  lpdm_cv_line(&cv, flagx + 0.5, flagy1, flagx + 0.5, flagy2 + 1, 1, LPDM_BLACK);
  const double flag[6] = {flagx, flagy2, flagx, flagy2 - 10, flagx + 25, flagy2 - 5};
  lpdm_cv_polygon(&cv, flag, 3, (lpdm_rgb){204, 204, 0});
}
