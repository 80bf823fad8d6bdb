"""The primitives that optimizers are chained from, one module per family."""

from gradtx.transforms._adam_mini import ScaleByAdamMiniState as ScaleByAdamMiniState
from gradtx.transforms._adam_mini import adam_mini_blocks as adam_mini_blocks
from gradtx.transforms._adam_mini import scale_by_adam_mini as scale_by_adam_mini
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
from gradtx.transforms._clipping import AdaptiveGradClipState as AdaptiveGradClipState
from gradtx.transforms._clipping import ClipByGlobalNormState as ClipByGlobalNormState
from gradtx.transforms._clipping import adaptive_grad_clip as adaptive_grad_clip
from gradtx.transforms._clipping import clip as clip
from gradtx.transforms._clipping import clip_by_block_rms as clip_by_block_rms
from gradtx.transforms._clipping import clip_by_global_norm as clip_by_global_norm
from gradtx.transforms._clipping import global_norm as global_norm
from gradtx.transforms._clipping import (
    per_example_global_norm_clip as per_example_global_norm_clip,
)
from gradtx.transforms._clipping import (
    per_example_layer_norm_clip as per_example_layer_norm_clip,
)
from gradtx.transforms._factored import FactoredState as FactoredState
from gradtx.transforms._factored import ScaleBySM3State as ScaleBySM3State
from gradtx.transforms._factored import scale_by_factored_rms as scale_by_factored_rms
from gradtx.transforms._factored import scale_by_param_block_norm as scale_by_param_block_norm
from gradtx.transforms._factored import scale_by_param_block_rms as scale_by_param_block_rms
from gradtx.transforms._factored import scale_by_sm3 as scale_by_sm3
from gradtx.transforms._galore import GaLoreDimensionNumbers as GaLoreDimensionNumbers
from gradtx.transforms._galore import GaLoreState as GaLoreState
from gradtx.transforms._galore import scale_by_galore as scale_by_galore
from gradtx.transforms._lr_free import COCOBState as COCOBState
from gradtx.transforms._lr_free import DAdaptAdamWState as DAdaptAdamWState
from gradtx.transforms._lr_free import DoGState as DoGState
from gradtx.transforms._lr_free import DoWGState as DoWGState
from gradtx.transforms._lr_free import ProdigyState as ProdigyState
from gradtx.transforms._lr_free import scale_by_cocob as scale_by_cocob
from gradtx.transforms._lr_free import scale_by_dadapt_adamw as scale_by_dadapt_adamw
from gradtx.transforms._lr_free import scale_by_dog as scale_by_dog
from gradtx.transforms._lr_free import scale_by_dowg as scale_by_dowg
from gradtx.transforms._lr_free import scale_by_prodigy as scale_by_prodigy
from gradtx.transforms._mars import ScaleByMarsState as ScaleByMarsState
from gradtx.transforms._mars import scale_by_mars as scale_by_mars
from gradtx.transforms._mechanic import MechanicState as MechanicState
from gradtx.transforms._mechanic import scale_by_mechanic as scale_by_mechanic
from gradtx.transforms._mix import MadgradState as MadgradState
from gradtx.transforms._mix import ScaleByAcpropState as ScaleByAcpropState
from gradtx.transforms._mix import ScaleByAdemamixState as ScaleByAdemamixState
from gradtx.transforms._mix import ScaleBySimplifiedAdemamixState as ScaleBySimplifiedAdemamixState
from gradtx.transforms._mix import scale_by_acprop as scale_by_acprop
from gradtx.transforms._mix import scale_by_ademamix as scale_by_ademamix
from gradtx.transforms._mix import scale_by_madgrad as scale_by_madgrad
from gradtx.transforms._mix import scale_by_simplified_ademamix as scale_by_simplified_ademamix
from gradtx.transforms._model_based import (
    DifferentiallyPrivateAggregateState as DifferentiallyPrivateAggregateState,
)
from gradtx.transforms._model_based import HutchinsonState as HutchinsonState
from gradtx.transforms._model_based import MomoAdamState as MomoAdamState
from gradtx.transforms._model_based import MomoState as MomoState
from gradtx.transforms._model_based import ScaleBySophiaState as ScaleBySophiaState
from gradtx.transforms._model_based import (
    differentially_private_aggregate as differentially_private_aggregate,
)
from gradtx.transforms._model_based import (
    hutchinson_estimator_diag_hessian as hutchinson_estimator_diag_hessian,
)
from gradtx.transforms._model_based import scale_by_momo as scale_by_momo
from gradtx.transforms._model_based import scale_by_momo_adam as scale_by_momo_adam
from gradtx.transforms._model_based import scale_by_sophia as scale_by_sophia
from gradtx.transforms._momentum import BiasCorrectionState as BiasCorrectionState
from gradtx.transforms._momentum import EmaState as EmaState
from gradtx.transforms._momentum import TraceState as TraceState
from gradtx.transforms._momentum import bias_correction as bias_correction
from gradtx.transforms._momentum import ema as ema
from gradtx.transforms._momentum import scale_by_momentum as scale_by_momentum
from gradtx.transforms._momentum import trace as trace
from gradtx.transforms._muon import MuonDimensionNumbers as MuonDimensionNumbers
from gradtx.transforms._muon import MuonState as MuonState
from gradtx.transforms._muon import scale_by_muon as scale_by_muon
from gradtx.transforms._per_parameter import layerwise_lr_decay as layerwise_lr_decay
from gradtx.transforms._per_parameter import scale_by_tree as scale_by_tree
from gradtx.transforms._scaling import ScaleByScheduleState as ScaleByScheduleState
from gradtx.transforms._scaling import centralize as centralize
from gradtx.transforms._scaling import scale as scale
from gradtx.transforms._scaling import scale_by_learning_rate as scale_by_learning_rate
from gradtx.transforms._scaling import scale_by_schedule as scale_by_schedule
from gradtx.transforms._scaling import scale_by_sign as scale_by_sign
from gradtx.transforms._schedule_free import ScheduleFreeState as ScheduleFreeState
from gradtx.transforms._schedule_free import scale_by_adopt as scale_by_adopt
from gradtx.transforms._schedule_free import schedule_free as schedule_free
from gradtx.transforms._schedule_free import (
    schedule_free_eval_params as schedule_free_eval_params,
)
from gradtx.transforms._shampoo import ShampooState as ShampooState
from gradtx.transforms._shampoo import scale_by_shampoo as scale_by_shampoo
from gradtx.transforms._sign import ScaleByLionState as ScaleByLionState
from gradtx.transforms._sign import ScaleByRpropState as ScaleByRpropState
from gradtx.transforms._sign import scale_by_lion as scale_by_lion
from gradtx.transforms._sign import scale_by_rprop as scale_by_rprop
from gradtx.transforms._soap import ScaleBySoapState as ScaleBySoapState
from gradtx.transforms._soap import scale_by_soap as scale_by_soap
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
    "layerwise_lr_decay",
    "scale_by_tree",
    "AddDecayedWeightsState",
    "AddNoiseState",
    "BiasCorrectionState",
    "COCOBState",
    "DAdaptAdamWState",
    "DifferentiallyPrivateAggregateState",
    "DoGState",
    "DoWGState",
    "EmaState",
    "FactoredState",
    "HutchinsonState",
    "GaLoreDimensionNumbers",
    "GaLoreState",
    "MadgradState",
    "MechanicState",
    "MomoAdamState",
    "MomoState",
    "MuonDimensionNumbers",
    "MuonState",
    "ProdigyState",
    "ScaleByAcpropState",
    "ScaleByAdamMiniState",
    "ScaleByAdaDeltaState",
    "ScaleByAdamState",
    "ScaleByAdamaxState",
    "ScaleByAdanState",
    "ScaleByAdemamixState",
    "ScaleByAmsgradState",
    "ScaleByBeliefState",
    "ScaleByLionState",
    "ScaleByMarsState",
    "ScaleByNadamState",
    "ScaleByNovogradState",
    "ScaleByOptimisticGradientState",
    "ScaleByRmsState",
    "ScaleByRpropState",
    "ScaleByRssState",
    "ScaleBySM3State",
    "ScaleByScheduleState",
    "ScaleBySimplifiedAdemamixState",
    "ScaleBySoapState",
    "ScaleBySophiaState",
    "ScaleByStddevState",
    "ScaleByTrustRatioState",
    "ScheduleFreeState",
    "ShampooState",
    "TraceState",
    "adam_mini_blocks",
    "add_decayed_weights",
    "add_noise",
    "bias_correction",
    "centralize",
    "AdaptiveGradClipState",
    "ClipByGlobalNormState",
    "adaptive_grad_clip",
    "per_example_global_norm_clip",
    "per_example_layer_norm_clip",
    "clip",
    "clip_by_block_rms",
    "clip_by_global_norm",
    "differentially_private_aggregate",
    "ema",
    "global_norm",
    "hutchinson_estimator_diag_hessian",
    "scale",
    "scale_by_acprop",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_adam_mini",
    "scale_by_adamax",
    "scale_by_adan",
    "scale_by_ademamix",
    "scale_by_adopt",
    "scale_by_amsgrad",
    "scale_by_belief",
    "scale_by_cocob",
    "scale_by_dadapt_adamw",
    "scale_by_dog",
    "scale_by_dowg",
    "scale_by_factored_rms",
    "scale_by_galore",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_madgrad",
    "scale_by_mars",
    "scale_by_mechanic",
    "scale_by_momentum",
    "scale_by_momo",
    "scale_by_momo_adam",
    "scale_by_muon",
    "scale_by_nadam",
    "scale_by_novograd",
    "scale_by_optimistic_gradient",
    "scale_by_param_block_norm",
    "scale_by_param_block_rms",
    "scale_by_polyak",
    "scale_by_prodigy",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_rprop",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_shampoo",
    "scale_by_sign",
    "scale_by_simplified_ademamix",
    "scale_by_sm3",
    "scale_by_soap",
    "scale_by_sophia",
    "scale_by_stddev",
    "scale_by_trust_ratio",
    "scale_by_yogi",
    "schedule_free",
    "schedule_free_eval_params",
    "trace",
]
