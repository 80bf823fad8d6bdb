"""Transformations of transformations: masking, hyperparameter injection."""

from gradtx._hyperparams import HyperparamsDict as HyperparamsDict
from gradtx._hyperparams import InjectHyperparamsState as InjectHyperparamsState
from gradtx._hyperparams import OptimizerState as OptimizerState
from gradtx._hyperparams import hyperparams as hyperparams
from gradtx._hyperparams import inject_hyperparams as inject_hyperparams
from gradtx._hyperparams import set_hyperparams as set_hyperparams
from gradtx.wrappers._accumulate import ApplyEvery as ApplyEvery
from gradtx.wrappers._accumulate import MultiSteps as MultiSteps
from gradtx.wrappers._accumulate import MultiStepsState as MultiStepsState
from gradtx.wrappers._accumulate import ShouldSkipUpdateFunction as ShouldSkipUpdateFunction
from gradtx.wrappers._accumulate import apply_every as apply_every
from gradtx.wrappers._averaging import ParamEmaState as ParamEmaState
from gradtx.wrappers._averaging import SWAState as SWAState
from gradtx.wrappers._averaging import averaged_params as averaged_params
from gradtx.wrappers._averaging import param_ema as param_ema
from gradtx.wrappers._averaging import swa as swa
from gradtx.wrappers._cautious import CautiousState as CautiousState
from gradtx.wrappers._cautious import cautious as cautious
from gradtx.wrappers._conditional import ConditionallyMaskState as ConditionallyMaskState
from gradtx.wrappers._conditional import (
    ConditionallyTransformState as ConditionallyTransformState,
)
from gradtx.wrappers._conditional import conditionally_mask as conditionally_mask
from gradtx.wrappers._conditional import conditionally_transform as conditionally_transform
from gradtx.wrappers._finite import ApplyIfFiniteState as ApplyIfFiniteState
from gradtx.wrappers._finite import ZeroNansState as ZeroNansState
from gradtx.wrappers._finite import apply_if_finite as apply_if_finite
from gradtx.wrappers._finite import skip_large_updates as skip_large_updates
from gradtx.wrappers._finite import skip_not_finite as skip_not_finite
from gradtx.wrappers._finite import zero_nans as zero_nans
from gradtx.wrappers._fuse import FuseLeavesState as FuseLeavesState
from gradtx.wrappers._fuse import fuse_leaves as fuse_leaves
from gradtx.wrappers._fuse import unfuse_state as unfuse_state
from gradtx.wrappers._lookahead import LookaheadParams as LookaheadParams
from gradtx.wrappers._lookahead import LookaheadState as LookaheadState
from gradtx.wrappers._lookahead import lookahead as lookahead
from gradtx.wrappers._masked import MaskedNode as MaskedNode
from gradtx.wrappers._masked import MaskedState as MaskedState
from gradtx.wrappers._masked import masked as masked
from gradtx.wrappers._misc import flatten as flatten
from gradtx.wrappers._misc import keep_params_nonnegative as keep_params_nonnegative
from gradtx.wrappers._monitor import MonitorState as MonitorState
from gradtx.wrappers._monitor import SnapshotState as SnapshotState
from gradtx.wrappers._monitor import measure_with_ema as measure_with_ema
from gradtx.wrappers._monitor import monitor as monitor
from gradtx.wrappers._monitor import scale_gradient as scale_gradient
from gradtx.wrappers._monitor import snapshot as snapshot
from gradtx.wrappers._partition import MultiTransformState as MultiTransformState
from gradtx.wrappers._partition import PartitionState as PartitionState
from gradtx.wrappers._partition import freeze as freeze
from gradtx.wrappers._partition import multi_transform as multi_transform
from gradtx.wrappers._partition import partition as partition
from gradtx.wrappers._partition import selective_transform as selective_transform
from gradtx.wrappers._plateau import ReduceLROnPlateauState as ReduceLROnPlateauState
from gradtx.wrappers._plateau import reduce_on_plateau as reduce_on_plateau
from gradtx.wrappers._quantize import QuantizedArray as QuantizedArray
from gradtx.wrappers._quantize import QuantizedState as QuantizedState
from gradtx.wrappers._quantize import dynamic_code as dynamic_code
from gradtx.wrappers._quantize import quantize_state as quantize_state
from gradtx.wrappers._sam import NormalizeState as NormalizeState
from gradtx.wrappers._sam import SAMState as SAMState
from gradtx.wrappers._sam import normalize as normalize
from gradtx.wrappers._sam import sam as sam
from gradtx.wrappers._stateful_hyperparams import (
    InjectStatefulHyperparamsState as InjectStatefulHyperparamsState,
)
from gradtx.wrappers._stateful_hyperparams import WrappedSchedule as WrappedSchedule
from gradtx.wrappers._stateful_hyperparams import WrappedScheduleState as WrappedScheduleState
from gradtx.wrappers._stateful_hyperparams import (
    inject_stateful_hyperparams as inject_stateful_hyperparams,
)

__all__ = [
    "ReduceLROnPlateauState",
    "InjectStatefulHyperparamsState",
    "WrappedSchedule",
    "WrappedScheduleState",
    "inject_stateful_hyperparams",
    "MonitorState",
    "SnapshotState",
    "flatten",
    "FuseLeavesState",
    "fuse_leaves",
    "unfuse_state",
    "keep_params_nonnegative",
    "measure_with_ema",
    "monitor",
    "scale_gradient",
    "snapshot",
    "reduce_on_plateau",
    "ApplyEvery",
    "ApplyIfFiniteState",
    "ConditionallyMaskState",
    "ConditionallyTransformState",
    "LookaheadParams",
    "LookaheadState",
    "MultiSteps",
    "MultiStepsState",
    "ShouldSkipUpdateFunction",
    "ZeroNansState",
    "apply_every",
    "apply_if_finite",
    "conditionally_mask",
    "conditionally_transform",
    "lookahead",
    "skip_large_updates",
    "skip_not_finite",
    "zero_nans",
    "ParamEmaState",
    "SWAState",
    "averaged_params",
    "param_ema",
    "swa",
    "CautiousState",
    "cautious",
    "HyperparamsDict",
    "InjectHyperparamsState",
    "MaskedNode",
    "NormalizeState",
    "OptimizerState",
    "MaskedState",
    "SAMState",
    "hyperparams",
    "inject_hyperparams",
    "masked",
    "MultiTransformState",
    "PartitionState",
    "freeze",
    "multi_transform",
    "partition",
    "selective_transform",
    "normalize",
    "QuantizedArray",
    "QuantizedState",
    "dynamic_code",
    "quantize_state",
    "sam",
    "set_hyperparams",
]
