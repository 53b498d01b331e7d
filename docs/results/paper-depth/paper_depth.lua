-- written by scripts/paper.lua --profile=depth
return {
  algos = {
    "ppo"
  },
  envs = {
    {
      name = "CartPole-v1",
      steps = 500000
    },
    {
      name = "HalfCheetah-v5",
      steps = 1000000
    }
  },
  name = "paper-depth",
  seeds = {
    1,
    2,
    3
  },
  variants = {
    {
      flags = {
        hidden = "64,64",
        mode = "bp"
      },
      name = "bp-2"
    },
    {
      flags = {
        hidden = "64,64",
        mode = "local"
      },
      name = "local-2"
    },
    {
      flags = {
        hidden = "64,64,64,64",
        mode = "bp"
      },
      name = "bp-4"
    },
    {
      flags = {
        hidden = "64,64,64,64",
        mode = "local"
      },
      name = "local-4"
    },
    {
      flags = {
        hidden = "64,64,64,64,64,64,64,64",
        mode = "bp"
      },
      name = "bp-8"
    },
    {
      flags = {
        hidden = "64,64,64,64,64,64,64,64",
        mode = "local"
      },
      name = "local-8"
    },
    {
      flags = {
        hidden = "64,64,64,64,64,64,64,64,64,64,64,64,64,64,64,64",
        mode = "bp"
      },
      name = "bp-16"
    },
    {
      flags = {
        hidden = "64,64,64,64,64,64,64,64,64,64,64,64,64,64,64,64",
        mode = "local"
      },
      name = "local-16"
    }
  }
}
