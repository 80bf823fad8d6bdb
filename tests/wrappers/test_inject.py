"""Hyperparameters in state: hyperparams, set_hyperparams, inject_hyperparams."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx


def test_aliases_record_float32_hyperparams_whatever_the_param_dtype():
    state = gradtx.adamw(1e-3, weight_decay=0.05).init({"w": jnp.zeros(3, jnp.bfloat16)})
    hps = gradtx.hyperparams(state)
    assert sorted(hps) == ["b1", "b2", "eps", "eps_root", "learning_rate", "weight_decay"]
    assert all(v.dtype == jnp.float32 and v.shape == () for v in hps.values())
    assert float(hps["weight_decay"]) == pytest.approx(0.05)


def test_static_choices_are_not_hyperparameters():
    hps = gradtx.hyperparams(gradtx.sgd(0.1).init(jnp.zeros(1)))
    assert list(hps) == ["learning_rate"]  # no momentum, no weight decay: not recorded
    hps = gradtx.hyperparams(gradtx.sgd(0.1, 0.9, weight_decay=1e-4).init(jnp.zeros(1)))
    assert sorted(hps) == ["learning_rate", "momentum", "weight_decay"]
    hps = gradtx.hyperparams(gradtx.sgd(0.1, 0.9, dampening=0.5).init(jnp.zeros(1)))
    assert sorted(hps) == ["dampening", "learning_rate", "momentum"]


def test_set_hyperparams_changes_the_next_update_without_retracing():
    tx = gradtx.sgd(0.1)
    traces = []

    @jax.jit
    def step(params, state):
        traces.append(1)
        g = jax.grad(lambda p: jnp.sum(p**2) / 2)(params)
        u, state = tx.update(g, state, params)
        return gradtx.apply_updates(params, u), state

    params = jnp.array([1.0, -2.0])
    state = tx.init(params)
    p1, state = step(params, state)
    np.testing.assert_allclose(p1, params * 0.9, rtol=1e-6)
    state = gradtx.set_hyperparams(state, learning_rate=0.5)
    p2, state = step(p1, state)
    np.testing.assert_allclose(p2, p1 * 0.5, rtol=1e-6)
    assert float(gradtx.hyperparams(state)["learning_rate"]) == 0.5
    assert len(traces) == 1


def test_schedules_show_their_current_value_and_cannot_be_set_by_hand():
    tx = gradtx.adam(lambda t: 0.1 / (1.0 + t))
    state = tx.init(jnp.zeros(2))
    assert float(gradtx.hyperparams(state)["learning_rate"]) == pytest.approx(0.1)
    for _ in range(3):
        _, state = tx.update(jnp.ones(2), state)
    # after three updates the last update used t = 2
    assert float(gradtx.hyperparams(state)["learning_rate"]) == pytest.approx(0.1 / 3)
    assert int(state.step) == 3
    with pytest.raises(ValueError, match="'learning_rate' follows a schedule"):
        gradtx.set_hyperparams(state, learning_rate=1.0)
    new = gradtx.set_hyperparams(state, b1=0.5)  # constants still can be set
    assert float(gradtx.hyperparams(new)["b1"]) == 0.5


def test_set_hyperparams_errors():
    state = gradtx.adam(1e-3).init(jnp.zeros(2))
    with pytest.raises(ValueError, match="no hyperparameter 'momentum'; it has \\['b1'"):
        gradtx.set_hyperparams(state, momentum=0.9)
    with pytest.raises(ValueError, match="must have shape \\(\\); got \\(2,\\)"):
        gradtx.set_hyperparams(state, learning_rate=jnp.ones(2))
    with pytest.raises(ValueError, match="records no hyperparameters"):
        gradtx.hyperparams(gradtx.scale_by_adam().init(jnp.zeros(1)))
    both = gradtx.chain(gradtx.sgd(0.1), gradtx.sgd(0.2)).init(jnp.zeros(1))
    with pytest.raises(ValueError, match="'learning_rate' is recorded at"):
        gradtx.hyperparams(both)
    with pytest.raises(ValueError, match="'learning_rate' is recorded at"):
        gradtx.set_hyperparams(both, learning_rate=0.3)
    tx = gradtx.inject_hyperparams(gradtx.scale)(step_size=2)  # an integer stays an integer
    with pytest.raises(ValueError, match="integer hyperparameter"):
        gradtx.set_hyperparams(tx.init(None), step_size=0.5)


def test_vmapped_learning_rate_sweep_is_one_program_matching_separate_runs():
    tx = gradtx.sgd(0.1, momentum=0.9)
    target = jnp.array([1.0, -3.0, 2.0])

    def loss(p):
        return jnp.sum((p - target) ** 2)

    def train(lr):
        params = jnp.zeros(3)
        state = gradtx.set_hyperparams(tx.init(params), learning_rate=lr)

        def body(carry, _):
            p, s = carry
            u, s = tx.update(jax.grad(loss)(p), s, p)
            return (gradtx.apply_updates(p, u), s), None

        (params, _), _ = jax.lax.scan(body, (params, state), None, length=20)
        return loss(params)

    lrs = jnp.array([0.001, 0.01, 0.05, 0.1])
    swept = jax.jit(jax.vmap(train))(lrs)
    separate = jnp.stack([jax.jit(train)(lr) for lr in lrs])
    np.testing.assert_allclose(swept, separate, rtol=1e-5)
    assert float(swept[0]) > float(swept[2])  # the sweep really varies the rate


def test_inject_hyperparams_matches_optax_semantics():
    sched = lambda t: 1.0 / (t + 1.0)  # noqa: E731
    tx = gradtx.inject_hyperparams(gradtx.sgd)(learning_rate=sched, momentum=0.5)
    state = tx.init(jnp.zeros(1))
    assert isinstance(state, gradtx.InjectHyperparamsState)
    assert float(state.hyperparams["learning_rate"]) == 1.0
    u1, state = tx.update(jnp.ones(1), state)
    u2, state = tx.update(jnp.ones(1), state)
    np.testing.assert_allclose(u1, [-1.0])
    np.testing.assert_allclose(u2, [-0.5 * 1.5])  # lr 1/2, trace 1 + 0.5
    assert int(state.count) == 2
    assert float(state.hyperparams["learning_rate"]) == 0.5  # the value the last update used
    # optax code mutates the dict in place; that works for a constant
    state.hyperparams["momentum"] = jnp.asarray(0.0)
    assert float(gradtx.tree.get(state, "momentum", filtering=lambda p, v: len(p) == 2)) == 0.0


def test_inject_hyperparams_static_args_and_dtype():
    tx = gradtx.inject_hyperparams(gradtx.scale_by_adam, static_args="b1")(b1=0.5)
    assert "b1" not in tx.init(jnp.zeros(1)).hyperparams
    with pytest.raises(ValueError, match="\\['bogus'\\] are not arguments"):
        gradtx.inject_hyperparams(gradtx.scale_by_adam, static_args=("bogus",))
    tx64 = gradtx.inject_hyperparams(gradtx.scale, hyperparam_dtype=jnp.float16)(0.5)
    assert tx64.init(None).hyperparams["step_size"].dtype == jnp.float16
    # dtypes are callables but never schedules
    tx = gradtx.inject_hyperparams(gradtx.scale_by_adam)(mu_dtype=jnp.bfloat16)
    state = tx.init(jnp.zeros(2))
    assert "mu_dtype" not in state.hyperparams
    assert state.inner_state.mu.dtype == jnp.bfloat16


def test_state_is_stable_under_jit_cond_and_tree_map():
    tx = gradtx.adam(lambda t: 1e-3 * 0.9**t)
    s0 = tx.init({"w": jnp.zeros(2)})
    _, s1 = jax.jit(tx.update)({"w": jnp.ones(2)}, s0)
    jax.lax.cond(True, lambda: s0, lambda: s1)  # raises on any structure/dtype change
    copied = jax.tree.map(lambda x: x, s1)
    assert copied.hyperparams.scheduled == frozenset({"learning_rate"})
    with pytest.raises(ValueError, match="follows a schedule"):
        gradtx.set_hyperparams(copied, learning_rate=0.1)


def test_wrong_state_type_is_named():
    tx = gradtx.adam(1e-3)
    other = gradtx.inject_hyperparams(gradtx.adam)(1e-3).init(jnp.zeros(1))
    with pytest.raises(ValueError, match="expected the OptimizerState.*another optimizer"):
        tx.update(jnp.ones(1), other)


def test_injecting_an_alias_keeps_one_copy_of_each_hyperparameter():
    # optax users log `optax.tree.get(state, "learning_rate")` on injected states
    tx = gradtx.inject_hyperparams(gradtx.adamw)(learning_rate=lambda t: 0.1 / (t + 1.0))
    state = tx.init({"w": jnp.zeros(2)})
    assert float(gradtx.tree.get(state, "learning_rate")) == pytest.approx(0.1)
    step = jax.jit(tx.update)
    for _ in range(2):
        u, state = step({"w": jnp.ones(2)}, state, {"w": jnp.zeros(2)})
    assert float(gradtx.tree.get(state, "learning_rate")) == pytest.approx(0.05)
    direct = gradtx.adamw(lambda t: 0.1 / (t + 1.0))
    s2 = direct.init({"w": jnp.zeros(2)})
    for _ in range(2):
        u2, s2 = direct.update({"w": jnp.ones(2)}, s2, {"w": jnp.zeros(2)})
    np.testing.assert_allclose(u["w"], u2["w"], rtol=1e-6)
    assert sorted(gradtx.hyperparams(state)) == sorted(gradtx.hyperparams(s2))
    jax.lax.cond(True, lambda: state, lambda: tx.init({"w": jnp.zeros(2)}))


def test_a_rebuilt_optimizer_uses_its_own_values_unless_set_by_hand():
    old_state = gradtx.adam(1e-3).init(jnp.zeros(1))
    u, state = gradtx.adam(1.0).update(jnp.ones(1), old_state)
    np.testing.assert_allclose(u, [-1.0], rtol=1e-5)  # optax's behaviour: the new rate
    assert float(gradtx.hyperparams(state)["learning_rate"]) == 1.0
    by_hand = gradtx.set_hyperparams(old_state, learning_rate=0.5)
    u, state = gradtx.adam(1.0).update(jnp.ones(1), by_hand)
    np.testing.assert_allclose(u, [-0.5], rtol=1e-5)  # the value set by hand wins
    assert state.overrides.tolist() == [False, False, False, False, True]


def test_a_state_from_another_optimizer_is_refused_with_both_name_lists():
    p = jnp.zeros(1)
    with pytest.raises(
        ValueError,
        match=r"made by `adam`, not by this optimizer \(it records the hyperparameters "
        r"\['b1'.*, this optimizer has \['b1'.*'weight_decay'\]\)",
    ):
        gradtx.adamw(1e-3).update(jnp.ones(1), gradtx.adam(1e-3).init(p), p)


def test_an_alias_inside_a_chain_inside_inject_follows_the_outer_schedule():
    inner = lambda learning_rate: gradtx.chain(  # noqa: E731
        gradtx.clip_by_global_norm(10.0), gradtx.sgd(learning_rate)
    )
    tx = gradtx.inject_hyperparams(inner)(learning_rate=lambda t: 0.5 - 0.125 * t)
    state = tx.init(jnp.zeros(1))
    steps = []
    for _ in range(4):
        u, state = tx.update(jnp.ones(1), state)
        steps.append(float(u[0]))
    np.testing.assert_allclose(steps, [-0.5, -0.375, -0.25, -0.125], rtol=1e-6)
    assert float(gradtx.tree.get(state, "learning_rate")) == pytest.approx(0.125)


def test_inject_sgd_with_defaults_runs_under_jit():
    tx = gradtx.inject_hyperparams(gradtx.sgd)(learning_rate=0.1)
    state = tx.init(jnp.zeros(2))
    u, state = jax.jit(tx.update)(jnp.ones(2), state)
    np.testing.assert_allclose(u, [-0.1, -0.1], rtol=1e-6)
    tx = gradtx.inject_hyperparams(gradtx.sgd)(learning_rate=0.1, momentum=0.9, nesterov=True)
    u, _ = jax.jit(tx.update)(jnp.ones(2), tx.init(jnp.zeros(2)))
    np.testing.assert_allclose(u, [-0.19, -0.19], rtol=1e-6)


def test_integer_hyperparameters_of_aliases_are_floats_and_setting_does_not_retrace():
    state = gradtx.sgd(1).init(jnp.zeros(1))
    assert gradtx.hyperparams(state)["learning_rate"].dtype == jnp.float32
    state = gradtx.set_hyperparams(state, learning_rate=0.5)  # no "integer hyperparameter"
    tx = gradtx.radam(1e-3, threshold=5)
    traces = []

    @jax.jit
    def step(s):
        traces.append(1)
        return tx.update(jnp.ones(1), s)[1]

    s = step(tx.init(jnp.zeros(1)))
    s = step(gradtx.set_hyperparams(s, threshold=6))
    step(s)
    assert len(traces) == 1


def test_set_hyperparams_refuses_out_of_range_and_non_finite_values():
    state = gradtx.adam(1e-3).init(jnp.zeros(1))
    with pytest.raises(ValueError, match=r"set_hyperparams\(b1=\.\.\.\)` must lie in \[0, 1\]"):
        gradtx.set_hyperparams(state, b1=-3.0)
    with pytest.raises(ValueError, match="learning_rate must be finite"):
        gradtx.set_hyperparams(state, learning_rate=float("nan"))


def test_a_restore_that_lost_the_hyperparams_dict_is_named():
    state = gradtx.adam(1e-3).init(jnp.zeros(1))
    broken = state._replace(hyperparams=dict(state.hyperparams))
    with pytest.raises(ValueError, match="plain dict, not a HyperparamsDict"):
        gradtx.adam(1e-3).update(jnp.ones(1), broken)


def test_masks_are_never_schedules_in_inject():
    mask = lambda p: {"w": True, "b": False}  # noqa: E731
    tx = gradtx.inject_hyperparams(gradtx.adamw)(learning_rate=0.1, weight_decay=0.5, mask=mask)
    p = {"w": jnp.ones(1), "b": jnp.ones(1)}
    state = tx.init(p)
    assert "mask" not in state.hyperparams
    u, _ = tx.update({"w": jnp.zeros(1), "b": jnp.zeros(1)}, state, p)
    np.testing.assert_allclose(u["w"], [-0.05], rtol=1e-6)
    np.testing.assert_allclose(u["b"], [0.0])


def test_python_values_written_into_an_injected_state_are_cast():
    tx = gradtx.inject_hyperparams(gradtx.adam)(learning_rate=0.1)
    state = tx.init(jnp.zeros(1))
    state.hyperparams["learning_rate"] = 0.01
    _, state = tx.update(jnp.ones(1), state)
    assert isinstance(state.hyperparams["learning_rate"], jax.Array)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.01)


def test_eager_updates_compile_once():
    tx = gradtx.adam(1e-3)
    state = tx.init(jnp.zeros(2))
    state = tx.update(jnp.ones(2), state)[1]  # the first eager step compiles its pieces
    with jax.log_compiles(True):
        import logging

        records = []
        handler = logging.Handler()
        handler.emit = records.append
        logger = logging.getLogger("jax")
        logger.addHandler(handler)
        try:
            for _ in range(3):
                state = tx.update(jnp.ones(2), state)[1]
        finally:
            logger.removeHandler(handler)
    assert [r for r in records if "Compiling" in r.getMessage()] == []
