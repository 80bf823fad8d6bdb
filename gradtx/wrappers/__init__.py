"""Transformations of transformations: masking, hyperparameter injection."""

from gradtx.wrappers._inject import HyperparamsDict as HyperparamsDict
from gradtx.wrappers._inject import InjectHyperparamsState as InjectHyperparamsState
from gradtx.wrappers._inject import OptimizerState as OptimizerState
from gradtx.wrappers._inject import hyperparams as hyperparams
from gradtx.wrappers._inject import inject_hyperparams as inject_hyperparams
from gradtx.wrappers._inject import set_hyperparams as set_hyperparams
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
