"""Curvature and second-order methods: Hessian-vector products, Newton, Newton-CG,
Gauss-Newton / Levenberg-Marquardt, L-BFGS with line searches, and a jitted driver."""

from gradtx.second_order._lbfgs import ScaleByLBFGSState as ScaleByLBFGSState
from gradtx.second_order._lbfgs import lbfgs as lbfgs
from gradtx.second_order._lbfgs import scale_by_lbfgs as scale_by_lbfgs
from gradtx.second_order._least_squares import GaussNewtonState as GaussNewtonState
from gradtx.second_order._least_squares import LevenbergMarquardtState as LevenbergMarquardtState
from gradtx.second_order._least_squares import gauss_newton as gauss_newton
from gradtx.second_order._least_squares import levenberg_marquardt as levenberg_marquardt
from gradtx.second_order._linesearch import (
    BacktrackingLinesearchInfo as BacktrackingLinesearchInfo,
)
from gradtx.second_order._linesearch import (
    ScaleByBacktrackingLinesearchState as ScaleByBacktrackingLinesearchState,
)
from gradtx.second_order._linesearch import (
    ScaleByZoomLinesearchState as ScaleByZoomLinesearchState,
)
from gradtx.second_order._linesearch import ZoomLinesearchInfo as ZoomLinesearchInfo
from gradtx.second_order._linesearch import (
    scale_by_backtracking_linesearch as scale_by_backtracking_linesearch,
)
from gradtx.second_order._linesearch import scale_by_zoom_linesearch as scale_by_zoom_linesearch
from gradtx.second_order._linesearch import (
    value_and_grad_from_state as value_and_grad_from_state,
)
from gradtx.second_order._minimize import MinimizeResult as MinimizeResult
from gradtx.second_order._minimize import minimize as minimize
from gradtx.second_order._newton import NewtonCGState as NewtonCGState
from gradtx.second_order._newton import NewtonState as NewtonState
from gradtx.second_order._newton import newton as newton
from gradtx.second_order._newton import newton_cg as newton_cg
from gradtx.second_order._oracles import fisher_diag as fisher_diag
from gradtx.second_order._oracles import gnvp as gnvp
from gradtx.second_order._oracles import hessian as hessian
from gradtx.second_order._oracles import hessian_diag as hessian_diag
from gradtx.second_order._oracles import hutchinson_diag as hutchinson_diag
from gradtx.second_order._oracles import hvp as hvp

__all__ = [
    "BacktrackingLinesearchInfo",
    "GaussNewtonState",
    "LevenbergMarquardtState",
    "MinimizeResult",
    "NewtonCGState",
    "NewtonState",
    "ScaleByBacktrackingLinesearchState",
    "ScaleByLBFGSState",
    "ScaleByZoomLinesearchState",
    "ZoomLinesearchInfo",
    "fisher_diag",
    "gauss_newton",
    "gnvp",
    "hessian",
    "hessian_diag",
    "hutchinson_diag",
    "hvp",
    "lbfgs",
    "levenberg_marquardt",
    "minimize",
    "newton",
    "newton_cg",
    "scale_by_backtracking_linesearch",
    "scale_by_lbfgs",
    "scale_by_zoom_linesearch",
    "value_and_grad_from_state",
]
