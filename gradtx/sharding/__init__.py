"""Sharded optimizer states on JAX's SPMD engine (``jax.sharding``).

The recipe (see :func:`state_shardings`): describe the parameters' shardings, ask for the
state's, and create the state directly on the devices::

    shardings = gradtx.sharding.state_shardings(tx, params, param_shardings)
    state = jax.jit(tx.init, out_shardings=shardings)(params)

``params`` may be ``jax.ShapeDtypeStruct`` leaves for :func:`state_shardings`, for
``jax.eval_shape(tx.init, params)`` (the state's shapes and dtypes, no memory used) and for
``jax.jit(tx.init, out_shardings=shardings).lower(params).compile()`` (then called on the
real, already sharded parameters): every optimizer's ``init`` only reads shapes and dtypes
while tracing. Calling ``tx.init`` eagerly on ``ShapeDtypeStruct`` leaves is not supported:
an optimizer that copies or measures its parameters (schedule-free, Prodigy, DoG, ...)
cannot build concrete state from shapes. To create parameters and state together without
ever materializing them on one device, initialize both inside one jitted function::

    def create(key):
        params = model_init(key)
        return params, tx.init(params)

    params, state = jax.jit(create, out_shardings=(param_shardings, shardings))(key)
"""

from gradtx.sharding._state import sharded_init as sharded_init
from gradtx.sharding._state import state_shardings as state_shardings

__all__ = ["sharded_init", "state_shardings"]
