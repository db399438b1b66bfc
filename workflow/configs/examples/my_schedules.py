"""A learning-rate schedule of your own for closerlook (own_network.yaml).

closerlook calls ``function(epoch, epochs, **kwargs)``: `epoch` is the training position
in epochs (a float with ``per: iteration``), `epochs` the run's length; it returns the
rate. Warmup (``warmup_epochs``) multiplies it like any built-in schedule.
"""


def triangular(epoch: float, epochs: int, lr_min: float, lr_max: float, cycle: float) -> float:
    """The triangular cyclical rate (Smith 2017): from lr_min up to lr_max and back down
    every `cycle` epochs."""
    position = (epoch % cycle) / cycle
    return lr_min + (lr_max - lr_min) * (1 - abs(2 * position - 1))
