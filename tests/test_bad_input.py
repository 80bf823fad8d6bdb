"""Bad input gets a clear error, at build or trace time, naming what is wrong (issue 8).

Two parts:

- **An audit of every public factory** (optimizers, transforms, wrappers, schedules,
  second-order, monitoring) read with ``inspect.signature``: every argument with a
  conventional name (``learning_rate``, ``b1``, ``eps``, ``every_k``, ``mode``, ...) is
  given values outside its conventional range, one at a time, and the factory must raise
  ``ValueError`` (``TypeError`` for a string where a number belongs) whose message names
  the argument and the allowed range, when built or, at the latest, when traced
  (``jax.eval_shape``: nothing is compiled). ``ALLOWED`` lists, with the reason, the
  invalid-looking values gradtx accepts on purpose. ``python tests/test_bad_input.py``
  prints the table of outcomes.
- **Tree-level mistakes**: masks and labels of the wrong structure or type, a label with no
  transform, an update without the ``params`` it needs, a state from another optimizer,
  and integer or boolean leaves, which every optimizer rejects (routed around it with
  ``masked`` they pass through untouched). Mismatched updates/params/state trees are
  covered by ``tests/test_structure_errors.py``.
"""

from __future__ import annotations

import functools
import inspect
import re
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import pytest

import gradtx
import gradtx.monitoring
import gradtx.optimizers
import gradtx.schedules
import gradtx.second_order
import gradtx.transforms
import gradtx.wrappers
from gradtx._checks import reports_as_itself

PARAMS = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
EXTRA = {"value": 1.0, "value_fn": lambda p: 1.0, "obj_fn": lambda p: 1.0}

# ---------------------------------------------------------------------------------------
# The rules: conventional argument names, the invalid values tried, what each means.

UNIT = (-0.1, 1.5, "0.9")  # decays and betas: [0, 1) or [0, 1]; a string is a TypeError
NONNEG = (-1.0, "0.1")  # rates, epsilons, thresholds: >= 0 (or > 0)
COUNT = (0, 2.5)  # counts and periods: integers >= 1
COUNT0 = (-1, 2.5)  # counts that may be 0: integers >= 0
CHOICE = ("bogus",)  # string options
RULES: dict[str, tuple[Any, ...]] = {
    **dict.fromkeys(
        "b1 b2 b3 beta beta3 decay momentum rho shampoo_beta adam_b1 adam_b2 factor"
        " pct_start pct_final dampening slow_step_size".split(),
        UNIT,
    ),
    **dict.fromkeys(
        "learning_rate max_learning_rate eps eps_root adam_eps_root matrix_epsilon"
        " diagonal_epsilon epsilon min_norm initial_accumulator_value initial_scale"
        " weight_decay weight_decay_rate max_delta max_norm clipping l2_norm_clip"
        " clip_threshold min_scale trust_coefficient eta noise_multiplier decay_rate"
        " smooth_beta damping".split(),
        NONNEG,
    ),
    **dict.fromkeys(
        "every_k k every_k_schedule sync_period update_proj_gap precondition_frequency"
        " ns_steps block_size update_interval num_betas leaves_per_buffer rank"
        " transition_steps decay_steps step_size first_period steps_per_epoch"
        " preconditioning_compute_steps max_precondition_dim accumulation_size"
        " step_size_up memory_size max_linesearch_steps max_backtracking_steps".split(),
        COUNT,
    ),
    **dict.fromkeys(
        "patience warmup_steps start_step min_dim_size_to_factor cooldown"
        " max_consecutive_errors start_preconditioning_step".split(),
        COUNT0,
    ),
    **dict.fromkeys(
        "mode variant graft_type preconditioning decay_type interpolate_type solver"
        " damping_update".split(),
        CHOICE,
    ),
}
# The message must say what is allowed.
RANGE = re.compile(
    r"lie in [\[(]|one of|>= ?-?\d|> ?0|positive|non-negative|greater than|"
    r"0 <= |integer|number|an int\b"
)

# Values for required arguments, so that every factory can be built generically.
_SGD = gradtx.sgd(0.1)
REQUIRED: dict[str, Any] = {
    "learning_rate": 0.1,
    "base_optimizer": _SGD,
    "inner": _SGD,
    "opt": _SGD,
    "optimizer": _SGD,
    "fast_optimizer": _SGD,
    "adv_optimizer": _SGD,
    "l2_norm_clip": 1.0,
    "noise_multiplier": 0.1,
    "seed": 0,
    "decay": 0.9,
    "eta": 0.01,
    "gamma": 0.55,
    "max_delta": 1.0,
    "threshold": 1.0,
    "max_norm": 1.0,
    "clipping": 1.0,
    "step_size": 0.1,
    "sync_period": 2,
    "slow_step_size": 0.5,
    "every_k_schedule": 2,
    "max_consecutive_errors": 2,
    "init_value": 1.0,
    "peak_value": 1.0,
    "end_value": 0.1,
    "transition_steps": 10,
    "decay_steps": 10,
    "warmup_steps": 5,
    "decay_rate": 0.5,
    "first_period": 10,
    "base_value": 0.1,
    "max_value": 1.0,
    "step_size_up": 5,
    "milestones": [5],
    "value": 1.0,
    "power": 2.0,
    "stable_steps": 5,
    "interpolate_type": "linear",
    "mask": {"w": True, "b": False},
    "max_linesearch_steps": 3,
    "max_backtracking_steps": 3,
}

# Invalid-looking values accepted on purpose: (factory, argument, value) -> why.
_OPTIMISM = "beta is the optimism coefficient (weight of the last gradient), not a decay"
_NOSTEPS = "documented, as in optax: a non-positive length gives the constant init_value"
ALLOWED: dict[tuple[str, str, Any], str] = {
    ("optimistic_adam_v2", "beta", 1.5): _OPTIMISM,
    ("optimistic_gradient_descent", "beta", 1.5): _OPTIMISM,
    ("scale_by_optimistic_gradient", "beta", 1.5): _OPTIMISM,
    ("muon", "ns_steps", 0): "optax parity: no Newton-Schulz step (normalized momentum)",
    ("scale", "step_size", 0): "scale's step_size is the multiplier, not a count",
    ("scale", "step_size", 2.5): "scale's step_size is the multiplier, not a count",
    ("exponential_decay", "transition_steps", 0): _NOSTEPS,
    ("polynomial_schedule", "transition_steps", 0): _NOSTEPS,
    ("linear_schedule", "transition_steps", 0): _NOSTEPS,
    ("warmup_exponential_decay_schedule", "transition_steps", 0): _NOSTEPS,
    ("scale_by_muon", "ns_steps", 0): "optax parity: no Newton-Schulz step (normalized momentum)",
    ("warmup_stable_decay_schedule", "decay_steps", 0): "documented: 0 jumps to end_value",
}
# Schedules take their lengths as numbers, as optax does: a fractional one follows the formula.
for _key in (
    ("cosine_decay_schedule", "decay_steps"),
    ("cosine_onecycle_schedule", "transition_steps"),
    ("exponential_decay", "transition_steps"),
    ("linear_onecycle_schedule", "transition_steps"),
    ("linear_schedule", "transition_steps"),
    ("polynomial_schedule", "transition_steps"),
    ("warmup_constant_schedule", "warmup_steps"),
    ("warmup_cosine_decay_schedule", "warmup_steps"),
    ("warmup_exponential_decay_schedule", "warmup_steps"),
    ("warmup_exponential_decay_schedule", "transition_steps"),
):
    ALLOWED[(*_key, 2.5)] = "optax parity: a schedule length is a number; the formula holds"

MODULES = (
    gradtx.optimizers,
    gradtx.transforms,
    gradtx.wrappers,
    gradtx.schedules,
    gradtx.second_order,
    gradtx.monitoring,
)


class Case(NamedTuple):
    name: str
    arg: str
    value: Any


def _factories() -> dict[str, tuple[Any, dict[str, Any]]]:
    """Every public factory that can be built from REQUIRED: name -> (fn, base kwargs)."""
    out: dict[str, tuple[Any, dict[str, Any]]] = {}
    for module in MODULES:
        for name in module.__all__:
            fn = getattr(module, name)
            if isinstance(fn, type) or not callable(fn) or name in out:
                continue
            try:
                params = inspect.signature(fn).parameters
            except (TypeError, ValueError):
                continue
            base = {}
            for p in params.values():
                if p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    if p.name not in REQUIRED:
                        break
                    base[p.name] = REQUIRED[p.name]
            else:
                if "key" in params:
                    base["key"] = 0  # no "no key given" warning
                if any(p in RULES for p in params):
                    out[name] = (fn, base)
    return out


FACTORIES = _factories()
CASES = [
    Case(name, arg, value)
    for name, (fn, _) in FACTORIES.items()
    for arg in inspect.signature(fn).parameters
    for value in RULES.get(arg, ())
]


def _probe(obj: Any) -> None:
    """Trace (never compile) what a factory built: init and update, or a schedule."""
    if hasattr(obj, "init") and hasattr(obj, "update"):
        state = jax.eval_shape(obj.init, PARAMS)
        jax.eval_shape(lambda s: obj.update(PARAMS, s, PARAMS, **EXTRA), state)
    elif callable(obj):
        jax.eval_shape(obj, jnp.int32(3))


@functools.cache
def _traceable(name: str) -> bool:
    """Whether the factory's default build traces on PARAMS (some need other inputs)."""
    fn, base = FACTORIES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            _probe(fn(**base))
        except Exception:  # e.g. per-example gradients, matrices only, LookaheadParams
            return False
    return True


def outcome(case: Case) -> tuple[str, BaseException | Warning | None]:
    """'build' or 'trace' (rejected there), 'warned', or 'accepted'; and the error."""
    fn, base = FACTORIES[case.name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            obj = fn(**{**base, case.arg: case.value})
        except (ValueError, TypeError) as err:
            return "build", err
        if _traceable(case.name):
            try:
                _probe(obj)
            except (ValueError, TypeError) as err:
                return "trace", err
    if caught:
        return "warned", caught[0].message
    return "accepted", None


def _case_id(case: Case) -> str:
    return f"{case.name}-{case.arg}={case.value!r}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_invalid_hyperparameter_is_rejected_with_a_clear_message(case):
    where, err = outcome(case)
    key = (case.name, case.arg, case.value)
    if key in ALLOWED:
        # Keep the allow-list honest: an entry that is now rejected must be removed.
        assert where in ("accepted", "warned"), f"{key} is rejected now: drop it from ALLOWED"
        return
    assert where in ("build", "trace"), f"{_case_id(case)} was {where}: {err}"
    # A value of the wrong type (a string for a number, a fraction for a count) may raise
    # TypeError; a value of the right type outside the range raises ValueError.
    wrong_type = isinstance(case.value, str | float) and RULES[case.arg] in (COUNT, COUNT0)
    wrong_type |= isinstance(case.value, str) and RULES[case.arg] != CHOICE
    expected = (ValueError, TypeError) if wrong_type else ValueError
    assert isinstance(err, expected), f"{_case_id(case)}: {type(err).__name__}: {err}"
    text = str(err)
    assert re.search(rf"\b{case.arg}\b", text), f"the message does not name {case.arg}: {text}"
    assert RANGE.search(text), f"the message does not give the allowed range: {text}"
    if case.name in gradtx.optimizers.__all__ and where == "build":
        # An alias's error names the call the user wrote, not the primitive that checked.
        assert f"`{case.name}({case.arg}=...)`" in text, text


def test_the_audit_covers_every_optimizer_and_the_allow_list_is_live():
    assert set(gradtx.optimizers.__all__) <= set(FACTORIES)
    assert len(FACTORIES) >= 140 and len(CASES) >= 1000
    assert set(ALLOWED) <= set(CASES)


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: gradtx.join_schedules([gradtx.constant_schedule(1.0)] * 3, [10, 5]),
            r"join_schedules\(boundaries=\.\.\.\)` must be strictly increasing",
        ),
        (
            lambda: gradtx.join_schedules([gradtx.constant_schedule(1.0)] * 3, [5]),
            r"len\(boundaries\) == len\(schedules\) - 1",
        ),
        (
            lambda: gradtx.multistep_schedule(1.0, [10, 5]),
            r"milestones=\.\.\.\)` must be strictly increasing",
        ),
        (lambda: gradtx.multistep_schedule(1.0, [-5]), r"milestones=\.\.\.\)` must be a non-neg"),
        (
            lambda: gradtx.piecewise_constant_schedule(1.0, {5: -0.5}),
            r"boundaries_and_scales\[5\]=\.\.\.\)` must be non-negative",
        ),
        (
            lambda: gradtx.warmup_cosine_decay_schedule(0.0, 1.0, 10, 5),
            r"decay_steps=\.\.\.\)` must be greater than warmup_steps",
        ),
        (
            lambda: gradtx.linear_onecycle_schedule(10, 1.0, pct_start=0.8, pct_final=0.5),
            r"needs 0 <= pct_start <= pct_final <= 1",
        ),
        (lambda: gradtx.sgdr_schedule([]), r"must hold at least one dict"),
        (lambda: gradtx.dynamic_code(bits=0), r"dynamic_code\(bits=\.\.\.\)` must be an int"),
    ],
    ids=[
        "join-unsorted",
        "join-count",
        "multistep-unsorted",
        "multistep-negative",
        "piecewise-negative-scale",
        "warmup-cosine-decay-short",
        "onecycle-knots",
        "sgdr-empty",
        "dynamic-code-bits",
    ],
)
def test_inconsistent_schedule_and_code_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_boundaries_before_zero_follow_the_formula():
    """As in optax, a boundary before step 0 is accepted: it applies from the start."""
    assert float(gradtx.piecewise_constant_schedule(1.0, {-5: 0.5})(0)) == 0.5
    assert float(gradtx.piecewise_interpolate_schedule("linear", 1.0, {-5: 0.5})(0)) == 0.5


# ---------------------------------------------------------------------------------------
# Tree-level mistakes.

TREE = {"a": jnp.ones(2), "b": {"c": jnp.ones(3)}}


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: gradtx.masked(gradtx.sgd(0.1), {"a": True, "b": {"d": False}}),
            r"`masked`: the mask must have the structure of the parameters .*only in the "
            r"mask: \['b'\]\['d'\]; not covered by the mask: \['b'\]\['c'\]",
        ),
        (
            lambda: gradtx.adamw(0.1, mask=lambda p: {"a": True}),
            r"`masked`: the mask must .*not covered by the mask: \['b'\]\['c'\]",
        ),
        (
            lambda: gradtx.partition({"x": gradtx.sgd(0.1)}, {"a": "x", "b": {"d": "x"}}),
            r"`partition`: param_labels must have the structure .*only in param_labels: "
            r"\['b'\]\['d'\]; not covered by param_labels: \['b'\]\['c'\]",
        ),
    ],
    ids=["masked", "alias-mask", "partition"],
)
def test_masks_and_labels_of_the_wrong_structure_name_the_paths(make, match):
    with pytest.raises(ValueError, match=match):
        make().init(TREE)


@pytest.mark.parametrize(
    "mask, shown",
    [
        ({"a": 1, "b": True}, r"int 1"),
        ({"a": 0.5, "b": True}, r"float 0\.5"),
        (lambda p: {"a": "yes", "b": True}, r"str 'yes'"),
    ],
    ids=["int", "float", "str-from-callable"],
)
def test_a_mask_with_non_boolean_leaves(mask, shown):
    for tx in (gradtx.masked(gradtx.sgd(0.1), mask), gradtx.adamw(0.1, mask=mask)):
        with pytest.raises(TypeError, match=r"`masked`: mask leaves must be booleans; at \['a'\] "):
            tx.update(TREE, tx.init(TREE), TREE)
    with pytest.raises(TypeError, match=shown):
        gradtx.freeze(mask).init(TREE)


@pytest.mark.parametrize("labels", [{"a": "x", "b": "y"}, lambda p: {"a": "x", "b": "y"}])
def test_a_label_with_no_transform(labels):
    tx = gradtx.partition({"x": gradtx.sgd(0.1)}, labels)
    with pytest.raises(
        ValueError,
        match=r"`partition`: some parameters have labels with no transform: \['y'\]\. "
        r"Labels in param_labels: \['x', 'y'\]; keys of transforms: \['x'\]\.",
    ):
        tx.init(TREE)


def _build(name: str) -> Any:
    fn, base = FACTORIES[name]
    return fn(**base)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: gradtx.adamw(0.1), r"`add_decayed_weights` needs the parameters"),
        (lambda: gradtx.lars(0.1), r"`add_decayed_weights` needs the parameters"),
        (lambda: gradtx.add_decayed_weights(1e-2), r"`add_decayed_weights` needs the param"),
        (lambda: gradtx.sam(gradtx.sgd(0.1), gradtx.sgd(0.1)), r"`sam` needs the parameters"),
        (lambda: gradtx.lookahead(gradtx.sgd(0.1), 2, 0.5), r"`lookahead` needs the Lookahead"),
    ],
    ids=["adamw", "lars", "add_decayed_weights", "sam", "lookahead"],
)
def test_a_transform_needing_params_called_without_them(make, match):
    tx = make()
    with pytest.raises((ValueError, TypeError), match=match + r".*call update\(.*params"):
        jax.eval_shape(lambda: tx.update(TREE, tx.init(TREE)))


def test_every_optimizer_without_params_works_or_says_it_needs_them():
    """Called without ``params``, an optimizer either does not need them or says so."""
    needs = []
    for name in gradtx.optimizers.__all__:
        tx = _build(name)
        state = jax.eval_shape(tx.init, PARAMS)
        try:
            jax.eval_shape(lambda s, tx=tx: tx.update(PARAMS, s, **EXTRA), state)
        except (ValueError, TypeError) as err:
            if re.search(r"needs the param|needs the Lookahead|call update\(.*params", str(err)):
                needs.append(name)
            elif not re.search(r"per-example gradients|needs the objective", str(err)):
                raise
    # The ones that need params (weight decay on by default, or params in the rule):
    assert {"adamw", "dog", "dowg", "lars", "fromage"} <= set(needs), needs


def _ring() -> list[tuple[str, str]]:
    names = list(gradtx.optimizers.__all__)
    return [(names[i - 1], names[i]) for i in range(len(names))]


# acprop and adabelief record the same hyperparameters in states with the same fields:
# only the NamedTuple's class differs, and nothing in adabelief's update reads it.
def test_an_update_with_a_state_from_another_optimizer():
    """Each optimizer is given the state of its neighbour in ``optimizers.__all__``."""
    silent = set()
    for made_by, used_by in _ring():
        state = jax.eval_shape(_build(made_by).init, PARAMS)
        tx = _build(used_by)
        try:
            jax.eval_shape(lambda s, tx=tx: tx.update(PARAMS, s, PARAMS, **EXTRA), state)
        except (ValueError, TypeError) as err:
            assert re.search(
                r"was (the state|it) made by another optimizer\?|the state does not fit"
                rf"|the state was made by `{made_by}`",
                str(err),
                re.IGNORECASE,
            ), f"{made_by} -> {used_by}: {err}"
        else:
            silent.add((made_by, used_by))
    assert not silent  # acprop's and adabelief's states have the same fields: named owner


def test_a_state_from_another_optimizer_names_both_sides():
    with pytest.raises(
        ValueError,
        match=r"`sgd\.update`: the state was made by `adam`, not by this optimizer \(it "
        r"records the hyperparameters \['b1', 'b2', 'eps', 'eps_root', 'learning_rate'\], this "
        r"optimizer has \['learning_rate', 'momentum'\]\); pass the state that `sgd`'s init "
        r"returned",
    ):
        gradtx.sgd(0.1, momentum=0.9).update(PARAMS, gradtx.adam(0.1).init(PARAMS), PARAMS)
    # The same fields (acprop's state is adabelief's, field for field): the owner tells.
    with pytest.raises(ValueError, match=r"`adabelief\.update`: the state was made by `acprop`"):
        gradtx.adabelief(0.1).update(PARAMS, gradtx.acprop(0.1).init(PARAMS), PARAMS)
    # The same optimizer built with other hyperparameters: the names that differ.
    with pytest.raises(
        ValueError,
        match=r"`nadam\.update`: the state records the hyperparameters \['b1', 'b2', 'eps', "
        r"'eps_root', 'learning_rate'\] but this optimizer has \['b1', 'b2', 'eps', "
        r"'eps_root', 'learning_rate', 'momentum_decay'\]; was the state made by another "
        r"optimizer\?",
    ):
        tx = gradtx.nadam(0.1, momentum_decay=0.004)
        tx.update(PARAMS, gradtx.nadam(0.1).init(PARAMS), PARAMS)
    # Same hyperparameters, other state type: the chain names the differing fields.
    with pytest.raises(
        ValueError,
        match=r"`chain\.update \(member 0\)`: the state does not fit .* the state has a "
        r"DoGState with fields .*, a state for these updates has a DoWGState",
    ):
        dog_state = gradtx.chain(gradtx.scale_by_dog()).init(PARAMS)
        gradtx.chain(gradtx.scale_by_dowg()).update(PARAMS, dog_state, PARAMS)


# ---------------------------------------------------------------------------------------
# Integer and boolean leaves: every optimizer rejects them (a step could only be cast);
# routed around it with ``masked`` they pass through untouched.


@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_every_optimizer_rejects_integer_and_boolean_leaves(dtype):
    bad = {**PARAMS, "n": jnp.ones(2, dtype)}
    for name in gradtx.optimizers.__all__:
        tx = _build(name)
        with pytest.raises(
            TypeError,
            match=rf"`{name}\.init`: the params leaf at \['n'\] has dtype {dtype}; optimizers "
            r"update floating-point or complex leaves only .* gradtx\.masked or gradtx\.part",
        ):
            tx.init(bad)
        state = jax.eval_shape(tx.init, PARAMS)
        updates = {**PARAMS, "w": jnp.ones((3, 2), dtype)}
        with pytest.raises(TypeError, match=rf"`{name}\.update`: the updates leaf at \['w'\]"):
            tx.update(updates, state, PARAMS)


def test_integer_and_boolean_leaves_pass_through_a_mask_untouched():
    params = {"w": jnp.ones(2), "n": jnp.array([3, 4], jnp.int32), "m": jnp.array([True, False])}
    grads = {"w": jnp.ones(2), "n": jnp.array([1, -2], jnp.int32), "m": jnp.array([True, True])}
    tx = gradtx.masked(gradtx.adam(0.1), {"w": True, "n": False, "m": False})
    updates, _ = tx.update(grads, tx.init(params), params)
    for k in ("n", "m"):
        assert updates[k].dtype == grads[k].dtype
        assert (updates[k] == grads[k]).all()
    frozen = gradtx.partition(
        {"f": gradtx.adam(0.1), "i": gradtx.set_to_zero()}, {"w": "f", "n": "i", "m": "i"}
    )
    updates, _ = frozen.update(grads, frozen.init(params), params)
    new = gradtx.apply_updates(params, updates)
    assert new["n"].dtype == jnp.int32 and (new["n"] == params["n"]).all()
    assert new["m"].dtype == jnp.bool_ and (new["m"] == params["m"]).all()
    assert new["w"].dtype == jnp.float32


def test_float0_gradients_of_integer_leaves_are_rejected():
    """``jax.grad(..., allow_int=True)`` gives float0 for integer leaves: named, not cast."""
    params = {"w": jnp.ones(2), "n": jnp.asarray(1)}
    grads = jax.grad(lambda p: jnp.sum(p["w"] ** 2), allow_int=True)(params)
    tx = gradtx.adam(0.1)
    state = tx.init({"w": params["w"], "n": jnp.ones(())})
    with pytest.raises(TypeError, match=r"`adam\.update`: the updates leaf at \['n'\] has dtype"):
        tx.update(grads, state)


def _table() -> str:  # pragma: no cover - a report for humans
    rows = [(c, *outcome(c)) for c in CASES]
    lines = [f"{len(FACTORIES)} factories, {len(CASES)} cases"]
    for case, where, err in rows:
        note = ALLOWED.get((case.name, case.arg, case.value), "")
        lines.append(f"{where:8s} {_case_id(case):60s} {note or str(err)[:90]}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(_table())


def test_an_optimizer_reports_its_own_call_unless_it_derived_the_value():
    @reports_as_itself
    def passes_on(b1):
        return gradtx.scale_by_adam(b1=b1)

    @reports_as_itself
    def doubles(b1):
        return gradtx.scale_by_adam(b1=2 * b1)

    with pytest.raises(ValueError, match=r"^`passes_on\(b1=\.\.\.\)` must lie in \[0, 1\]"):
        passes_on(1.5)
    # 2 * 0.75 is not what the caller wrote: the primitive that checked is named.
    with pytest.raises(ValueError, match=r"^`scale_by_adam\(b1=\.\.\.\)` must lie in \[0, 1\]"):
        doubles(0.75)
    # Outside any optimizer, and nested: the outermost call that received the value.
    with pytest.raises(ValueError, match=r"^`scale_by_adam\(b1="):
        gradtx.scale_by_adam(b1=1.5)
    with pytest.raises(ValueError, match=r"^`muon\(adam_b1=\.\.\.\)`"):
        gradtx.muon(0.1, adam_b1=1.5)
    assert passes_on.__name__ == "passes_on"  # functools.wraps: docs and signature kept
