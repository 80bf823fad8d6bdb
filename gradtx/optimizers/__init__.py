"""The optimizers, each a short chain of primitives with hyperparameters in state."""

from gradtx.optimizers._adam import adam as adam
from gradtx.optimizers._adam import adamax as adamax
from gradtx.optimizers._adam import adamaxw as adamaxw
from gradtx.optimizers._adam import adamw as adamw
from gradtx.optimizers._adam import amsgrad as amsgrad
from gradtx.optimizers._adam import nadam as nadam
from gradtx.optimizers._adam import nadamw as nadamw
from gradtx.optimizers._adam import radam as radam
from gradtx.optimizers._adam_mini import adam_mini as adam_mini
from gradtx.optimizers._belief import adabelief as adabelief
from gradtx.optimizers._belief import adan as adan
from gradtx.optimizers._belief import novograd as novograd
from gradtx.optimizers._belief import yogi as yogi
from gradtx.optimizers._factored import adafactor as adafactor
from gradtx.optimizers._factored import sm3 as sm3
from gradtx.optimizers._galore import galore as galore
from gradtx.optimizers._lr_free import cocob as cocob
from gradtx.optimizers._lr_free import dadapt_adamw as dadapt_adamw
from gradtx.optimizers._lr_free import dog as dog
from gradtx.optimizers._lr_free import dowg as dowg
from gradtx.optimizers._lr_free import mechanize as mechanize
from gradtx.optimizers._lr_free import prodigy as prodigy
from gradtx.optimizers._mars import mars as mars
from gradtx.optimizers._mix import acprop as acprop
from gradtx.optimizers._mix import ademamix as ademamix
from gradtx.optimizers._mix import madgrad as madgrad
from gradtx.optimizers._mix import simplified_ademamix as simplified_ademamix
from gradtx.optimizers._model_based import dpsgd as dpsgd
from gradtx.optimizers._model_based import momo as momo
from gradtx.optimizers._model_based import momo_adam as momo_adam
from gradtx.optimizers._model_based import sophia as sophia
from gradtx.optimizers._muon import muon as muon
from gradtx.optimizers._optimistic import optimistic_adam as optimistic_adam
from gradtx.optimizers._optimistic import optimistic_adam_v2 as optimistic_adam_v2
from gradtx.optimizers._optimistic import (
    optimistic_gradient_descent as optimistic_gradient_descent,
)
from gradtx.optimizers._rms import adadelta as adadelta
from gradtx.optimizers._rms import adagrad as adagrad
from gradtx.optimizers._rms import rmsprop as rmsprop
from gradtx.optimizers._schedule_free import adopt as adopt
from gradtx.optimizers._schedule_free import schedule_free_adamw as schedule_free_adamw
from gradtx.optimizers._schedule_free import schedule_free_sgd as schedule_free_sgd
from gradtx.optimizers._sgd import sgd as sgd
from gradtx.optimizers._shampoo import shampoo as shampoo
from gradtx.optimizers._sign import lion as lion
from gradtx.optimizers._sign import rprop as rprop
from gradtx.optimizers._sign import sign_sgd as sign_sgd
from gradtx.optimizers._sign import signum as signum
from gradtx.optimizers._soap import soap as soap
from gradtx.optimizers._trust import fromage as fromage
from gradtx.optimizers._trust import lamb as lamb
from gradtx.optimizers._trust import lars as lars
from gradtx.optimizers._trust import noisy_sgd as noisy_sgd
from gradtx.optimizers._trust import polyak_sgd as polyak_sgd

__all__ = [
    "acprop",
    "adabelief",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adam_mini",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "ademamix",
    "adopt",
    "amsgrad",
    "cocob",
    "dadapt_adamw",
    "dog",
    "dowg",
    "dpsgd",
    "fromage",
    "galore",
    "lamb",
    "lars",
    "lion",
    "madgrad",
    "mars",
    "mechanize",
    "momo",
    "momo_adam",
    "muon",
    "nadam",
    "nadamw",
    "noisy_sgd",
    "novograd",
    "optimistic_adam",
    "optimistic_adam_v2",
    "optimistic_gradient_descent",
    "polyak_sgd",
    "prodigy",
    "radam",
    "rmsprop",
    "rprop",
    "schedule_free_adamw",
    "schedule_free_sgd",
    "sgd",
    "shampoo",
    "sign_sgd",
    "signum",
    "soap",
    "simplified_ademamix",
    "sm3",
    "sophia",
    "yogi",
]
