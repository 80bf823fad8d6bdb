"""Transformations of transformations: masking, hyperparameter injection."""

from gradtx._hyperparams import HyperparamsDict as HyperparamsDict
from gradtx._hyperparams import InjectHyperparamsState as InjectHyperparamsState
from gradtx._hyperparams import OptimizerState as OptimizerState
from gradtx._hyperparams import hyperparams as hyperparams
from gradtx._hyperparams import inject_hyperparams as inject_hyperparams
from gradtx._hyperparams import set_hyperparams as set_hyperparams
from gradtx.wrappers._masked import MaskedNode as MaskedNode
from gradtx.wrappers._masked import MaskedState as MaskedState
from gradtx.wrappers._masked import masked as masked

__all__ = [
    "HyperparamsDict",
    "InjectHyperparamsState",
    "MaskedNode",
    "OptimizerState",
    "MaskedState",
    "hyperparams",
    "inject_hyperparams",
    "masked",
    "set_hyperparams",
]
