"""The primitives that optimizers are chained from, one module per family."""

from gradtx.transforms._adam_variants import ScaleByAdaDeltaState as ScaleByAdaDeltaState
from gradtx.transforms._adam_variants import ScaleByAdamaxState as ScaleByAdamaxState
from gradtx.transforms._adam_variants import ScaleByNadamState as ScaleByNadamState
from gradtx.transforms._adam_variants import scale_by_adadelta as scale_by_adadelta
from gradtx.transforms._adam_variants import scale_by_adamax as scale_by_adamax
from gradtx.transforms._adam_variants import scale_by_nadam as scale_by_nadam
from gradtx.transforms._adam_variants import scale_by_radam as scale_by_radam
from gradtx.transforms._adaptive import ScaleByAdamState as ScaleByAdamState
from gradtx.transforms._adaptive import ScaleByAmsgradState as ScaleByAmsgradState
from gradtx.transforms._adaptive import ScaleByRmsState as ScaleByRmsState
from gradtx.transforms._adaptive import ScaleByRssState as ScaleByRssState
from gradtx.transforms._adaptive import ScaleByStddevState as ScaleByStddevState
from gradtx.transforms._adaptive import scale_by_adam as scale_by_adam
from gradtx.transforms._adaptive import scale_by_amsgrad as scale_by_amsgrad
from gradtx.transforms._adaptive import scale_by_rms as scale_by_rms
from gradtx.transforms._adaptive import scale_by_rss as scale_by_rss
from gradtx.transforms._adaptive import scale_by_stddev as scale_by_stddev
from gradtx.transforms._clipping import clip as clip
from gradtx.transforms._clipping import clip_by_block_rms as clip_by_block_rms
from gradtx.transforms._clipping import clip_by_global_norm as clip_by_global_norm
from gradtx.transforms._clipping import global_norm as global_norm
from gradtx.transforms._momentum import BiasCorrectionState as BiasCorrectionState
from gradtx.transforms._momentum import EmaState as EmaState
from gradtx.transforms._momentum import TraceState as TraceState
from gradtx.transforms._momentum import bias_correction as bias_correction
from gradtx.transforms._momentum import ema as ema
from gradtx.transforms._momentum import scale_by_momentum as scale_by_momentum
from gradtx.transforms._momentum import trace as trace
from gradtx.transforms._scaling import ScaleByScheduleState as ScaleByScheduleState
from gradtx.transforms._scaling import centralize as centralize
from gradtx.transforms._scaling import scale as scale
from gradtx.transforms._scaling import scale_by_learning_rate as scale_by_learning_rate
from gradtx.transforms._scaling import scale_by_schedule as scale_by_schedule
from gradtx.transforms._scaling import scale_by_sign as scale_by_sign
from gradtx.transforms._weight_decay import AddDecayedWeightsState as AddDecayedWeightsState
from gradtx.transforms._weight_decay import add_decayed_weights as add_decayed_weights

# Issue 3 families: each adds its import lines directly above its own marker.
# [family:sign]
# [family:belief]
# [family:trust]
# [family:factored]

__all__ = [
    "AddDecayedWeightsState",
    "BiasCorrectionState",
    "EmaState",
    "ScaleByAdaDeltaState",
    "ScaleByAdamState",
    "ScaleByAdamaxState",
    "ScaleByAmsgradState",
    "ScaleByNadamState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "ScaleByScheduleState",
    "ScaleByStddevState",
    "TraceState",
    "add_decayed_weights",
    "bias_correction",
    "centralize",
    "clip",
    "clip_by_block_rms",
    "clip_by_global_norm",
    "ema",
    "global_norm",
    "scale",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_amsgrad",
    "scale_by_learning_rate",
    "scale_by_momentum",
    "scale_by_nadam",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_sign",
    "scale_by_stddev",
    "trace",
    # Issue 3 families: each adds its names directly above its own marker.
    # [names:sign]
    # [names:belief]
    # [names:trust]
    # [names:factored]
]
