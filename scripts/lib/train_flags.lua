-- SPDX-License-Identifier: MIT
-- train_flags.lua -- train.lua's own flags (not keys of a plugin), in the
-- order --help lists them: { name, default (a string, or nil), doc }.
-- train.lua builds its --help and its flag checks from it, and tune.lua
-- (scripts/lib/tune_run.lua) knows from it which flags a tune may set.
return {
  { "env", "CartPole-v1", "environment id (--list shows them)" },
  { "algo", "reinforce", "algorithm" },
  { "mode", "local", "bp (backpropagation) or local (local pairwise distance matching)" },
  { "loss", nil, "local loss of the hidden layers (default: the algorithm's, e.g. guided for reinforce, kernel with anchor=1 for ppo)" },
  { "distance", "euclidean", "distance between the samples of a batch" },
  { "seed", "1", "seed of the network, the algorithm and the env" },
  { "steps", "500000", "env-step budget" },
  { "out", nil, "output directory (default runs/<env>_<algo>_<mode>_<loss>_s<seed>)" },
  { "hidden", "64,64", "widths of the hidden layers, comma-separated (empty: none; dqn: 120,84)" },
  { "act", "tanh", "activation of the hidden layers: tanh, relu, identity, sigmoid, elu, gelu, silu, leaky_relu, softplus (dqn: relu)" },
  { "init", nil, "hidden layers' initialisation: torch or orthogonal (default: orthogonal for ppo, torch otherwise)" },
  { "gain", nil, "scale of the hidden layers' initial weights (default: sqrt(2) with orthogonal, 1 with torch)" },
  { "total_timesteps", nil, "CleanRL's name for --steps" },
  { "threshold", nil, "20-episode average that counts as solved (default: the env's)" },
  { "quiet", nil, "no progress lines" },
  { "tensorboard", nil, "also write TensorBoard event files into the output directory (docs/outputs.md)" },
  { "capture_video", nil, "record the greedy policy's episode to DIR/videos/ at CleanRL's intervals (training episodes 0, 1, 8, 27, ..., 729, then every 1000th; docs/rendering.md)" },
  { "blocked", "false", "local mode: the local losses over blocks of rows, never a whole B x B matrix (docs/performance.md)" },
  { "local_budget_mib", "1024", "local mode: whole B x B matrices up to this many MiB, row blocks beyond (refused for losses without them)" },
  { "partners", "0", "local mode: each sample's local loss over K random partners, not all B-1 (0: every pair, exact; an estimate, docs/performance.md)" },
  { "checkpoint_every", "0", "save DIR/checkpoint.safetensors every N updates (0: never)" },
  { "resume", nil, "DIR: continue the run checkpointed in DIR (give the same flags)" },
  { "distributed", nil, "data-parallel over MPI ranks (mpirun -np N ...; ppo; docs/distributed.md)" },
  { "list", nil, "list envs, algos, distances, losses and layers, then exit" },
  { "help", nil, "this help" },
}
