"""optax.contrib's names, for code written against ``optax.contrib``.

Every optimizer here is a first-class gradtx optimizer (``gradtx.prodigy`` is
``gradtx.contrib.prodigy``); this namespace only mirrors optax's layout, so that
``optax.contrib.X`` becomes ``gradtx.contrib.X``.
"""

from gradtx.optimizers._galore import galore as galore
from gradtx.optimizers._lr_free import cocob as cocob
from gradtx.optimizers._lr_free import dadapt_adamw as dadapt_adamw
from gradtx.optimizers._lr_free import dog as dog
from gradtx.optimizers._lr_free import dowg as dowg
from gradtx.optimizers._lr_free import mechanize as mechanize
from gradtx.optimizers._lr_free import prodigy as prodigy
from gradtx.optimizers._mix import acprop as acprop
from gradtx.optimizers._mix import ademamix as ademamix
from gradtx.optimizers._mix import madgrad as madgrad
from gradtx.optimizers._mix import simplified_ademamix as simplified_ademamix
from gradtx.optimizers._model_based import dpsgd as dpsgd
from gradtx.optimizers._model_based import momo as momo
from gradtx.optimizers._model_based import momo_adam as momo_adam
from gradtx.optimizers._model_based import sophia as sophia
from gradtx.optimizers._muon import muon as muon
from gradtx.optimizers._schedule_free import adopt as adopt
from gradtx.optimizers._schedule_free import schedule_free_adamw as schedule_free_adamw
from gradtx.optimizers._schedule_free import schedule_free_sgd as schedule_free_sgd
from gradtx.transforms._galore import GaLoreDimensionNumbers as GaLoreDimensionNumbers
from gradtx.transforms._galore import GaLoreState as GaLoreState
from gradtx.transforms._galore import scale_by_galore as scale_by_galore
from gradtx.transforms._lr_free import COCOBState as COCOBState
from gradtx.transforms._lr_free import DAdaptAdamWState as DAdaptAdamWState
from gradtx.transforms._lr_free import DoGState as DoGState
from gradtx.transforms._lr_free import DoWGState as DoWGState
from gradtx.transforms._lr_free import ProdigyState as ProdigyState
from gradtx.transforms._lr_free import scale_by_cocob as scale_by_cocob
from gradtx.transforms._mechanic import MechanicState as MechanicState
from gradtx.transforms._mix import MadgradState as MadgradState
from gradtx.transforms._mix import ScaleByAdemamixState as ScaleByAdemamixState
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
from gradtx.transforms._model_based import (
    differentially_private_aggregate as differentially_private_aggregate,
)
from gradtx.transforms._model_based import (
    hutchinson_estimator_diag_hessian as hutchinson_estimator_diag_hessian,
)
from gradtx.transforms._muon import MuonDimensionNumbers as MuonDimensionNumbers
from gradtx.transforms._muon import MuonState as MuonState
from gradtx.transforms._muon import scale_by_muon as scale_by_muon
from gradtx.transforms._schedule_free import ScheduleFreeState as ScheduleFreeState
from gradtx.transforms._schedule_free import scale_by_adopt as scale_by_adopt
from gradtx.transforms._schedule_free import schedule_free as schedule_free
from gradtx.transforms._schedule_free import schedule_free_eval_params as schedule_free_eval_params
from gradtx.wrappers._plateau import ReduceLROnPlateauState as ReduceLROnPlateauState
from gradtx.wrappers._plateau import reduce_on_plateau as reduce_on_plateau
from gradtx.wrappers._sam import NormalizeState as NormalizeState
from gradtx.wrappers._sam import SAMState as SAMState
from gradtx.wrappers._sam import normalize as normalize
from gradtx.wrappers._sam import sam as sam

__all__ = [
    "COCOBState",
    "DAdaptAdamWState",
    "DifferentiallyPrivateAggregateState",
    "DoGState",
    "DoWGState",
    "GaLoreDimensionNumbers",
    "GaLoreState",
    "HutchinsonState",
    "MadgradState",
    "MechanicState",
    "MomoAdamState",
    "MomoState",
    "MuonDimensionNumbers",
    "MuonState",
    "NormalizeState",
    "ProdigyState",
    "ReduceLROnPlateauState",
    "SAMState",
    "ScaleByAdemamixState",
    "ScheduleFreeState",
    "acprop",
    "ademamix",
    "adopt",
    "cocob",
    "dadapt_adamw",
    "differentially_private_aggregate",
    "dog",
    "dowg",
    "dpsgd",
    "galore",
    "hutchinson_estimator_diag_hessian",
    "madgrad",
    "mechanize",
    "momo",
    "momo_adam",
    "muon",
    "normalize",
    "prodigy",
    "reduce_on_plateau",
    "sam",
    "scale_by_acprop",
    "scale_by_ademamix",
    "scale_by_adopt",
    "scale_by_cocob",
    "scale_by_galore",
    "scale_by_madgrad",
    "scale_by_muon",
    "scale_by_simplified_ademamix",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_sgd",
    "simplified_ademamix",
    "sophia",
]
