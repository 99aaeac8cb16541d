"""When periodic work is due: the one rule every loop and every part of a run (evaluation, checkpoints, logging,
diagnostics) uses."""


def due(every: int, before: int, after: int) -> bool:
    """A multiple of `every` lies in (before, after]: periodic work is due.

    For SAC, which advances one step at a time, that is `after % every == 0`; REINFORCE advances a
    batch of whole episodes at a time, so "every N steps" means "in the batch that crosses k * N".
    """
    return every > 0 and after // every > before // every
