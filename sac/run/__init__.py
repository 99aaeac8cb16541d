"""The machinery around the maths: the command-line entry points, one run's session, the training loops, the replay
buffer, rollouts, the run directory, checkpoints, logging, evaluation of saved policies and the algorithm registry.
Nothing in the maths (the modules directly in sac/) imports from here."""
