"""gradtx: composable gradient transformations for JAX.

An optimizer is a pair of pure functions, ``init(params) -> state`` and
``update(updates, state, params=None, **extra_args) -> (updates, state)``, chained from
small primitives. The public core follows optax's names, signatures and numerics, so
``import gradtx as optax`` runs optax code; every optimizer also keeps its current
hyperparameters in its state (:func:`hyperparams`, :func:`set_hyperparams`).
"""

from gradtx import checkpoint as checkpoint
from gradtx import contrib as contrib
from gradtx import init as init
from gradtx import masks as masks
from gradtx import monitoring as monitoring
from gradtx import schedules as schedules
from gradtx import second_order as second_order
from gradtx import sharding as sharding
from gradtx import tree as tree
from gradtx.apply import apply_updates as apply_updates
from gradtx.apply import incremental_update as incremental_update
from gradtx.apply import periodic_update as periodic_update
from gradtx.base import EmptyState as EmptyState
from gradtx.base import GradientTransformation as GradientTransformation
from gradtx.base import GradientTransformationExtraArgs as GradientTransformationExtraArgs
from gradtx.base import OptState as OptState
from gradtx.base import Params as Params
from gradtx.base import ScalarOrSchedule as ScalarOrSchedule
from gradtx.base import Schedule as Schedule
from gradtx.base import TransformInitFn as TransformInitFn
from gradtx.base import TransformUpdateExtraArgsFn as TransformUpdateExtraArgsFn
from gradtx.base import TransformUpdateFn as TransformUpdateFn
from gradtx.base import Updates as Updates
from gradtx.base import identity as identity
from gradtx.base import set_to_zero as set_to_zero
from gradtx.base import stateless as stateless
from gradtx.base import stateless_with_tree_map as stateless_with_tree_map
from gradtx.base import with_extra_args_support as with_extra_args_support
from gradtx.combine import chain as chain
from gradtx.combine import named_chain as named_chain
from gradtx.masks import labels_by_path as labels_by_path
from gradtx.numerics import safe_increment as safe_increment
from gradtx.numerics import safe_int32_increment as safe_int32_increment
from gradtx.numerics import safe_norm as safe_norm
from gradtx.numerics import safe_root_mean_squares as safe_root_mean_squares
from gradtx.optimizers import *  # noqa: F403 - the list is optimizers.__all__
from gradtx.optimizers import __all__ as _optimizers_all
from gradtx.schedules import *  # noqa: F403 - optax exposes schedules at top level too
from gradtx.schedules import __all__ as _schedules_all

# optax has its L-BFGS and line searches at the top level.
from gradtx.second_order import (
    ScaleByBacktrackingLinesearchState as ScaleByBacktrackingLinesearchState,
)
from gradtx.second_order import ScaleByLBFGSState as ScaleByLBFGSState
from gradtx.second_order import ScaleByZoomLinesearchState as ScaleByZoomLinesearchState
from gradtx.second_order import ZoomLinesearchInfo as ZoomLinesearchInfo
from gradtx.second_order import lbfgs as lbfgs
from gradtx.second_order import scale_by_backtracking_linesearch as scale_by_backtracking_linesearch
from gradtx.second_order import scale_by_lbfgs as scale_by_lbfgs
from gradtx.second_order import scale_by_zoom_linesearch as scale_by_zoom_linesearch
from gradtx.second_order import value_and_grad_from_state as value_and_grad_from_state
from gradtx.transforms import *  # noqa: F403 - the list is transforms.__all__
from gradtx.transforms import __all__ as _transforms_all
from gradtx.wrappers import *  # noqa: F403 - the list is wrappers.__all__
from gradtx.wrappers import __all__ as _wrappers_all

__version__ = "0.1.0.dev0"

__all__ = sorted(
    [
        "EmptyState",
        "GradientTransformation",
        "GradientTransformationExtraArgs",
        "OptState",
        "Params",
        "ScalarOrSchedule",
        "Schedule",
        "TransformInitFn",
        "TransformUpdateExtraArgsFn",
        "TransformUpdateFn",
        "Updates",
        "checkpoint",
        "contrib",
        "ScaleByBacktrackingLinesearchState",
        "ScaleByLBFGSState",
        "ScaleByZoomLinesearchState",
        "ZoomLinesearchInfo",
        "lbfgs",
        "scale_by_backtracking_linesearch",
        "scale_by_lbfgs",
        "scale_by_zoom_linesearch",
        "value_and_grad_from_state",
        "init",
        "second_order",
        "sharding",
        "monitoring",
        "apply_updates",
        "chain",
        "identity",
        "incremental_update",
        "labels_by_path",
        "masks",
        "named_chain",
        "periodic_update",
        "safe_increment",
        "safe_int32_increment",
        "safe_norm",
        "safe_root_mean_squares",
        "schedules",
        "set_to_zero",
        "stateless",
        "stateless_with_tree_map",
        "tree",
        "with_extra_args_support",
    ]
    + list(_optimizers_all)
    + list(_schedules_all)
    + list(_transforms_all)
    + list(_wrappers_all)
)
