"""Transformations of transformations: masking, hyperparameter injection."""

from gradtx._hyperparams import HyperparamsDict as HyperparamsDict
from gradtx._hyperparams import InjectHyperparamsState as InjectHyperparamsState
from gradtx._hyperparams import OptimizerState as OptimizerState
from gradtx._hyperparams import hyperparams as hyperparams
from gradtx._hyperparams import inject_hyperparams as inject_hyperparams
from gradtx._hyperparams import set_hyperparams as set_hyperparams
from gradtx.wrappers._cautious import CautiousState as CautiousState
from gradtx.wrappers._cautious import cautious as cautious
from gradtx.wrappers._masked import MaskedNode as MaskedNode
from gradtx.wrappers._masked import MaskedState as MaskedState
from gradtx.wrappers._masked import masked as masked
from gradtx.wrappers._sam import NormalizeState as NormalizeState
from gradtx.wrappers._sam import SAMState as SAMState
from gradtx.wrappers._sam import normalize as normalize
from gradtx.wrappers._sam import sam as sam

__all__ = [
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
    "normalize",
    "sam",
    "set_hyperparams",
]
