# Hopper-v5_ppo_curves.gp -- written by scripts/lib/plot.lua (docs/sweeps.md, "Plots").
# Remake: cd into this folder, then: gnuplot Hopper-v5_ppo_curves.gp
set encoding utf8
set termoption noenhanced
set grid lc rgb '#dddddd'
set border lc rgb '#444444'
set key top left box opaque samplen 2
set title "Learning curves: Hopper-v5, ppo: budget 1000000 env steps, 10 seeds per variant\nmean over seeds of the 20-episode moving average, band: 95% CI (mean +- 1.96 SE)"
set xlabel "env steps"
set ylabel "episode return (20-episode moving average)"
set style fill transparent solid 0.25 noborder
set xrange [0:1000000]
set format x '%.0f'
set rmargin 6
set terminal pngcairo size 900,540 font ',10' noenhanced
set output "Hopper-v5_ppo_curves.png"
plot "Hopper-v5_ppo_curves.dat" index 0 using 1:3:4 with filledcurves lc rgb "#0072B2" notitle, \
     "Hopper-v5_ppo_curves.dat" index 1 using 1:3:4 with filledcurves lc rgb "#E69F00" notitle, \
     "Hopper-v5_ppo_curves.dat" index 2 using 1:3:4 with filledcurves lc rgb "#009E73" notitle, \
     "Hopper-v5_ppo_curves.dat" index 0 using 1:2 with lines lw 2 lc rgb "#0072B2" title "bp: 10 of 10 seeds", \
     "Hopper-v5_ppo_curves.dat" index 1 using 1:2 with lines lw 2 lc rgb "#E69F00" title "local-stress: 10 of 10 seeds", \
     "Hopper-v5_ppo_curves.dat" index 2 using 1:2 with lines lw 2 lc rgb "#009E73" title "local-guided: 4 of 10 seeds; 6 not run", \
     NaN with lines lw 2 lc rgb "#D55E00" title "local-kernel: 0 of 10 seeds; 10 not run", \
     NaN with lines lw 2 lc rgb "#CC79A7" title "dfa: 0 of 10 seeds; 10 not run", \
     NaN with lines lw 2 lc rgb "#56B4E9" title "frozen: 0 of 10 seeds; 10 not run"
set terminal svg size 900,540 dynamic font 'Helvetica,10' noenhanced background '#ffffff'
set output "Hopper-v5_ppo_curves.svg"
replot
unset output
