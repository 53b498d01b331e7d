# Hopper-v5_ppo_final.gp -- written by scripts/lib/plot.lua (docs/sweeps.md, "Plots").
# Remake: cd into this folder, then: gnuplot Hopper-v5_ppo_final.gp
set encoding utf8
set termoption noenhanced
set grid lc rgb '#dddddd'
set border lc rgb '#444444'
set key top right box opaque samplen 2
set title "Final returns: Hopper-v5, ppo: budget 1000000 env steps, 10 seeds per variant\nbox: quartiles and median; whiskers: min and max; points: one per seed"
set xlabel ""
set ylabel "final return (mean of the last 10% of episodes' returns)"
set xrange [0.4:6.6]
set xtics ("bp\n10 of 10 seeds" 1, "local-stress\n10 of 10 seeds" 2, "local-guided\n4 of 10 seeds; 6 not run" 3, "local-kernel\n0 of 10 seeds; 10 not run" 4, "dfa\n0 of 10 seeds; 10 not run" 5, "frozen\n0 of 10 seeds; 10 not run" 6)
set style fill transparent solid 0.25 border
set boxwidth 0.5
set bmargin 4
set terminal pngcairo size 900,540 font ',10' noenhanced
set output "Hopper-v5_ppo_final.png"
plot "Hopper-v5_ppo_final_box.dat" index 0 using 1:2:3:4:5 with candlesticks whiskerbars 0.5 lw 1.5 lc rgb "#0072B2" title "bp", \
     "Hopper-v5_ppo_final_box.dat" index 0 using 1:6:6:6:6 with candlesticks lw 2.5 lc rgb "#0072B2" notitle, \
     "Hopper-v5_ppo_final_box.dat" index 1 using 1:2:3:4:5 with candlesticks whiskerbars 0.5 lw 1.5 lc rgb "#E69F00" title "local-stress", \
     "Hopper-v5_ppo_final_box.dat" index 1 using 1:6:6:6:6 with candlesticks lw 2.5 lc rgb "#E69F00" notitle, \
     "Hopper-v5_ppo_final_box.dat" index 2 using 1:2:3:4:5 with candlesticks whiskerbars 0.5 lw 1.5 lc rgb "#009E73" title "local-guided", \
     "Hopper-v5_ppo_final_box.dat" index 2 using 1:6:6:6:6 with candlesticks lw 2.5 lc rgb "#009E73" notitle, \
     "Hopper-v5_ppo_final.dat" index 0 using 2:3 with points pt 7 ps 0.9 lc rgb "#0072B2" notitle, \
     "Hopper-v5_ppo_final.dat" index 1 using 2:3 with points pt 7 ps 0.9 lc rgb "#E69F00" notitle, \
     "Hopper-v5_ppo_final.dat" index 2 using 2:3 with points pt 7 ps 0.9 lc rgb "#009E73" notitle
set terminal svg size 900,540 dynamic font 'Helvetica,10' noenhanced background '#ffffff'
set output "Hopper-v5_ppo_final.svg"
replot
unset output
