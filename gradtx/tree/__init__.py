"""Pytree utilities: arithmetic, moments, casting, and state access by name.

The names follow ``optax.tree`` so code written for it runs unchanged.
"""

from gradtx.tree._access import get as get
from gradtx.tree._access import get_all_with_path as get_all_with_path
from gradtx.tree._access import map_params as map_params
from gradtx.tree._access import set as set
from gradtx.tree._arith import add as add
from gradtx.tree._arith import add_scale as add_scale
from gradtx.tree._arith import allclose as allclose
from gradtx.tree._arith import cast as cast
from gradtx.tree._arith import cast_like as cast_like
from gradtx.tree._arith import clip as clip
from gradtx.tree._arith import conj as conj
from gradtx.tree._arith import div as div
from gradtx.tree._arith import dtype as dtype
from gradtx.tree._arith import full_like as full_like
from gradtx.tree._arith import max as max
from gradtx.tree._arith import min as min
from gradtx.tree._arith import mul as mul
from gradtx.tree._arith import norm as norm
from gradtx.tree._arith import ones_like as ones_like
from gradtx.tree._arith import random_like as random_like
from gradtx.tree._arith import real as real
from gradtx.tree._arith import scale as scale
from gradtx.tree._arith import size as size
from gradtx.tree._arith import split_key_like as split_key_like
from gradtx.tree._arith import sub as sub
from gradtx.tree._arith import sum as sum
from gradtx.tree._arith import vdot as vdot
from gradtx.tree._arith import where as where
from gradtx.tree._arith import zeros_like as zeros_like
from gradtx.tree._moments import bias_correction as bias_correction
from gradtx.tree._moments import update_infinity_moment as update_infinity_moment
from gradtx.tree._moments import update_moment as update_moment
from gradtx.tree._moments import update_moment_per_elem_norm as update_moment_per_elem_norm

__all__ = [
    "add",
    "add_scale",
    "allclose",
    "bias_correction",
    "cast",
    "cast_like",
    "clip",
    "conj",
    "div",
    "dtype",
    "full_like",
    "get",
    "get_all_with_path",
    "map_params",
    "max",
    "min",
    "mul",
    "norm",
    "ones_like",
    "random_like",
    "real",
    "scale",
    "set",
    "size",
    "split_key_like",
    "sub",
    "sum",
    "update_infinity_moment",
    "update_moment",
    "update_moment_per_elem_norm",
    "vdot",
    "where",
    "zeros_like",
]
