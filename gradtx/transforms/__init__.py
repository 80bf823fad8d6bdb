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
from gradtx.transforms._belief import ScaleByAdanState as ScaleByAdanState
from gradtx.transforms._belief import ScaleByBeliefState as ScaleByBeliefState
from gradtx.transforms._belief import ScaleByNovogradState as ScaleByNovogradState
from gradtx.transforms._belief import scale_by_adan as scale_by_adan
from gradtx.transforms._belief import scale_by_belief as scale_by_belief
from gradtx.transforms._belief import scale_by_novograd as scale_by_novograd
from gradtx.transforms._belief import scale_by_yogi as scale_by_yogi
from gradtx.transforms._clipping import clip as clip
from gradtx.transforms._clipping import clip_by_block_rms as clip_by_block_rms
from gradtx.transforms._clipping import clip_by_global_norm as clip_by_global_norm
from gradtx.transforms._clipping import global_norm as global_norm
from gradtx.transforms._factored import FactoredState as FactoredState
from gradtx.transforms._factored import ScaleBySM3State as ScaleBySM3State
from gradtx.transforms._factored import scale_by_factored_rms as scale_by_factored_rms
from gradtx.transforms._factored import scale_by_param_block_norm as scale_by_param_block_norm
from gradtx.transforms._factored import scale_by_param_block_rms as scale_by_param_block_rms
from gradtx.transforms._factored import scale_by_sm3 as scale_by_sm3
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
from gradtx.transforms._sign import ScaleByLionState as ScaleByLionState
from gradtx.transforms._sign import ScaleByRpropState as ScaleByRpropState
from gradtx.transforms._sign import scale_by_lion as scale_by_lion
from gradtx.transforms._sign import scale_by_rprop as scale_by_rprop
from gradtx.transforms._trust import AddNoiseState as AddNoiseState
from gradtx.transforms._trust import (
    ScaleByOptimisticGradientState as ScaleByOptimisticGradientState,
)
from gradtx.transforms._trust import ScaleByTrustRatioState as ScaleByTrustRatioState
from gradtx.transforms._trust import add_noise as add_noise
from gradtx.transforms._trust import scale_by_optimistic_gradient as scale_by_optimistic_gradient
from gradtx.transforms._trust import scale_by_polyak as scale_by_polyak
from gradtx.transforms._trust import scale_by_trust_ratio as scale_by_trust_ratio
from gradtx.transforms._weight_decay import AddDecayedWeightsState as AddDecayedWeightsState
from gradtx.transforms._weight_decay import add_decayed_weights as add_decayed_weights

__all__ = [
    "AddDecayedWeightsState",
    "AddNoiseState",
    "BiasCorrectionState",
    "EmaState",
    "FactoredState",
    "ScaleByAdaDeltaState",
    "ScaleByAdamState",
    "ScaleByAdamaxState",
    "ScaleByAdanState",
    "ScaleByAmsgradState",
    "ScaleByBeliefState",
    "ScaleByLionState",
    "ScaleByNadamState",
    "ScaleByNovogradState",
    "ScaleByOptimisticGradientState",
    "ScaleByRmsState",
    "ScaleByRpropState",
    "ScaleByRssState",
    "ScaleBySM3State",
    "ScaleByScheduleState",
    "ScaleByStddevState",
    "ScaleByTrustRatioState",
    "TraceState",
    "add_decayed_weights",
    "add_noise",
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
    "scale_by_adan",
    "scale_by_amsgrad",
    "scale_by_belief",
    "scale_by_factored_rms",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_momentum",
    "scale_by_nadam",
    "scale_by_novograd",
    "scale_by_optimistic_gradient",
    "scale_by_param_block_norm",
    "scale_by_param_block_rms",
    "scale_by_polyak",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_rprop",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_sign",
    "scale_by_sm3",
    "scale_by_stddev",
    "scale_by_trust_ratio",
    "scale_by_yogi",
    "trace",
]
