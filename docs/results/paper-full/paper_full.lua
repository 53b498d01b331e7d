-- written by scripts/paper.lua --profile=full
return {
  algos = {
    "reinforce",
    "ppo"
  },
  envs = {
    {
      name = "CartPole-v1",
      steps = 500000
    },
    {
      name = "Acrobot-v1",
      steps = 500000
    },
    {
      name = "Pendulum-v1",
      steps = 1000000,
      threshold = -200
    },
    {
      name = "InvertedPendulum-v5",
      steps = 1000000
    },
    {
      name = "InvertedDoublePendulum-v5",
      steps = 1000000
    },
    {
      name = "Reacher-v5",
      steps = 1000000
    },
    {
      name = "Swimmer-v5",
      steps = 1000000
    },
    {
      name = "Hopper-v5",
      steps = 1000000
    },
    {
      name = "HalfCheetah-v5",
      steps = 1000000
    },
    {
      name = "Walker2d-v5",
      steps = 1000000
    },
    {
      name = "Ant-v5",
      steps = 1000000
    },
    {
      name = "Humanoid-v5",
      steps = 1000000
    }
  },
  name = "paper-full",
  seeds = {
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10
  },
  variants = {
    {
      flags = {
        mode = "bp"
      },
      name = "bp"
    },
    {
      flags = {
        loss = "stress",
        mode = "local"
      },
      name = "local-stress"
    },
    {
      flags = {
        loss = "guided",
        mode = "local"
      },
      name = "local-guided"
    },
    {
      algos = {
        "ppo"
      },
      flags = {
        anchor = 1,
        loss = "kernel",
        mode = "local"
      },
      name = "local-kernel"
    }
  }
}
