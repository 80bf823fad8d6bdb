"""Parameter initializers with torch-style gains (Xavier/Glorot, Kaiming/He), built on
``jax.nn.initializers.variance_scaling``, and the signal-propagation diagnostic."""

from gradtx.init._initializers import calculate_gain as calculate_gain
from gradtx.init._initializers import compute_fans as compute_fans
from gradtx.init._initializers import kaiming_normal as kaiming_normal
from gradtx.init._initializers import kaiming_uniform as kaiming_uniform
from gradtx.init._initializers import xavier_normal as xavier_normal
from gradtx.init._initializers import xavier_uniform as xavier_uniform
from gradtx.init._signal import SignalPropagation as SignalPropagation
from gradtx.init._signal import init_mlp as init_mlp
from gradtx.init._signal import mlp_forward as mlp_forward
from gradtx.init._signal import signal_propagation as signal_propagation

__all__: list[str] = [
    "SignalPropagation",
    "calculate_gain",
    "compute_fans",
    "init_mlp",
    "kaiming_normal",
    "kaiming_uniform",
    "mlp_forward",
    "signal_propagation",
    "xavier_normal",
    "xavier_uniform",
]
