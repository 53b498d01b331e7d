# Remake: cd into this folder, then: gnuplot a_eval_profile.gp
set terminal pngcairo size 900,600 font ',10' noenhanced
set output 'a_eval_profile.png'
set title 'Part (a): the main table, PPO, evaluation returns: performance profiles'
set xlabel 'normalised score tau'
set ylabel 'fraction of runs with a score > tau (95% bands)'
set xrange [0:1.2]
set yrange [0:1]
set key outside right
set grid
set style fill transparent solid 0.15 noborder
plot 'a_eval_profile.dat' index 0 using 1:3:4 with filledcurves lc rgb '#1f77b4' notitle, \
     'a_eval_profile.dat' index 0 using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'bp', \
     'a_eval_profile.dat' index 1 using 1:3:4 with filledcurves lc rgb '#d62728' notitle, \
     'a_eval_profile.dat' index 1 using 1:2 with lines lw 2 lc rgb '#d62728' title 'local-stress', \
     'a_eval_profile.dat' index 2 using 1:3:4 with filledcurves lc rgb '#2ca02c' notitle, \
     'a_eval_profile.dat' index 2 using 1:2 with lines lw 2 lc rgb '#2ca02c' title 'local-guided', \
     'a_eval_profile.dat' index 3 using 1:3:4 with filledcurves lc rgb '#9467bd' notitle, \
     'a_eval_profile.dat' index 3 using 1:2 with lines lw 2 lc rgb '#9467bd' title 'local-kernel', \
     'a_eval_profile.dat' index 4 using 1:3:4 with filledcurves lc rgb '#ff7f0e' notitle, \
     'a_eval_profile.dat' index 4 using 1:2 with lines lw 2 lc rgb '#ff7f0e' title 'rule', \
     'a_eval_profile.dat' index 5 using 1:3:4 with filledcurves lc rgb '#8c564b' notitle, \
     'a_eval_profile.dat' index 5 using 1:2 with lines lw 2 lc rgb '#8c564b' title 'frozen'
