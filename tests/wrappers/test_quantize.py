"""Tests for gradtx.quantize_state (8-bit blockwise optimizer state)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import pathlib
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx.wrappers._quantize import dequantize, quantize

ROOT = pathlib.Path(__file__).resolve().parents[2]


# --- the code maps and the blockwise round trip ------------------------------------------


def test_dynamic_codes_have_256_sorted_distinct_values_with_zero_and_one():
    for signed in (True, False):
        code = gradtx.dynamic_code(signed=signed)
        assert code.shape == (256,) and code.dtype == np.float32
        assert np.all(np.diff(code) > 0)
        assert 0.0 in code and 1.0 in code
    signed, unsigned = gradtx.dynamic_code(True), gradtx.dynamic_code(False)
    assert signed[0] < -0.99 and unsigned[0] == 0.0
    # The unsigned code spends the sign bit on the fraction: its grid near 1 is twice
    # as fine (0.9 / 128 against 0.9 / 64).
    np.testing.assert_allclose(np.diff(signed[-3:-1]), 0.9 / 64, rtol=1e-5)
    np.testing.assert_allclose(np.diff(unsigned[-3:-1]), 0.9 / 128, rtol=1e-5)
    # Small values keep their relative precision: the smallest nonzero magnitude.
    assert np.min(np.abs(signed[signed != 0])) == pytest.approx(0.55e-6, rel=1e-5)


def test_arithmetic_encode_and_decode_agree_with_the_code_tables():
    # Encoding and decoding compute the code index and value arithmetically (no table
    # lookup); they must reproduce the tables exactly.
    from gradtx.wrappers._quantize import _code_value, _nearest_code

    idx = jnp.arange(256)
    nearest = jax.jit(_nearest_code)  # one program per shape, not ~100 eager operations
    rng = np.random.default_rng(3)
    # Magnitudes over all decades (1e-8 .. 1), both signs, the table's own values.
    v = rng.choice([-1.0, 1.0], 20000) * 10.0 ** rng.uniform(-8, 0, 20000)
    for unsigned in (False, True):
        table = gradtx.dynamic_code(signed=not unsigned)
        flag = jnp.full(256, unsigned)
        np.testing.assert_array_equal(np.asarray(jax.jit(_code_value)(idx, flag)), table)
        np.testing.assert_array_equal(np.asarray(nearest(jnp.asarray(table), flag)), idx)
        x = np.abs(v) if unsigned else v
        x = np.concatenate([x, [0.0, 1.0, -1.0][: 2 if unsigned else 3]]).astype(np.float32)
        got = np.asarray(nearest(jnp.asarray(x), jnp.full(x.shape, unsigned)))
        dist = np.abs(x[:, None].astype(np.float64) - table[None, :])
        best = np.argmin(dist, axis=1)
        # Equal to the brute-force nearest code, except at float32 near-ties.
        rows = np.arange(x.size)
        assert np.all(dist[rows, got] <= dist[rows, best] + 1e-7)
        assert np.mean(got == best) > 0.9995


def _numpy_round_trip(x: np.ndarray, block_size: int):
    """Independent reference: brute-force nearest code per element, block by block."""
    signed, unsigned = gradtx.dynamic_code(True), gradtx.dynamic_code(False)
    flat = x.reshape(-1).astype(np.float64)
    n_blocks = -(-flat.size // block_size)
    flat = np.concatenate([flat, np.zeros(n_blocks * block_size - flat.size)])
    codes, out, bounds = [], [], []
    for block in flat.reshape(n_blocks, block_size):
        absmax = np.max(np.abs(block))
        table = unsigned if block.min() >= 0 else signed
        v = block / (absmax if absmax > 0 else 1.0)
        c = np.argmin(np.abs(v[:, None] - table[None, :].astype(np.float64)), axis=1)
        codes.append(c)
        out.append(table[c] * absmax)
        bounds.append(np.full(block_size, 0.5 * np.max(np.diff(table)) * absmax))
    cut = slice(0, x.size)
    return (
        np.concatenate(codes)[cut].reshape(x.shape),
        np.concatenate(out)[cut].reshape(x.shape),
        np.concatenate(bounds)[cut].reshape(x.shape),
    )


def test_blockwise_round_trip_matches_numpy_reference():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 29)) * np.logspace(-5, 1, 29)  # 1073 = 4 blocks + 49
    flat = x.reshape(-1)
    flat[256:512] = np.abs(flat[256:512])  # a non-negative block: unsigned code
    flat[512:768] = 0.0  # an all-zero block
    x = flat.reshape(37, 29).astype(np.float32)
    q = quantize(jnp.asarray(x), 256)
    assert q.codes.shape == x.shape and q.codes.dtype == jnp.uint8
    assert q.scales.shape == (5,) and q.scales.dtype == jnp.float32
    # The sign of the scale records the code: negative for the non-negative block.
    assert float(q.scales[1]) < 0 < float(q.scales[0]) and float(q.scales[2]) == 0.0
    ref_codes, ref_values, bound = _numpy_round_trip(x, 256)
    back = np.asarray(dequantize(q, 256))
    # Same nearest codes as the brute-force search (ties between two codes have
    # probability zero for these values); the values agree to float32 rounding.
    np.testing.assert_array_equal(np.asarray(q.codes), ref_codes)
    np.testing.assert_allclose(back, ref_values, rtol=1e-6, atol=0)
    # The error is at most half the largest code gap times the block scale; zeros and
    # a block's positive maximum are stored exactly (the code holds 1 but not -1).
    err = np.abs(back - x)
    assert np.all(err <= bound * (1 + 1e-5))  # float32 rounding of x / absmax
    assert np.max(err[bound > 0] / bound[bound > 0]) > 0.3  # the bound is not vacuous
    for b in range(4):
        block = x.reshape(-1)[256 * b : 256 * (b + 1)]
        i = np.argmax(block)
        if block[i] == np.max(np.abs(block)):
            assert back.reshape(-1)[256 * b + i] == block[i]
    assert np.all(back[x == 0] == 0)


# --- the wrapper --------------------------------------------------------------------------


def _state_bytes(tree) -> int:
    return sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(tree))


def test_adamw_state_is_at_most_2_1_bytes_per_parameter():
    params = jax.ShapeDtypeStruct((1024, 1024), jnp.float32)
    n = 1024 * 1024
    quantized = jax.eval_shape(gradtx.quantize_state(gradtx.adamw(1e-3)).init, params)
    plain = jax.eval_shape(gradtx.adamw(1e-3).init, params)
    per_param = _state_bytes(quantized) / n
    # 2 uint8 codes + 2 float32 scales per 256 elements = 2.03125, plus a few scalars.
    assert 2.03 < per_param <= 2.1
    assert _state_bytes(plain) / n > 8.0


def test_small_integer_and_other_shaped_leaves_stay_as_they_are():
    params = {"big": jnp.ones((64, 64)), "small": jnp.ones(10), "none": None}
    tx = gradtx.quantize_state(gradtx.adam(1e-3))
    state = tx.init(params)
    adam_state = state.inner_state.inner_state[0]
    assert isinstance(adam_state.mu["big"], gradtx.QuantizedArray)
    assert isinstance(adam_state.nu["big"], gradtx.QuantizedArray)
    assert adam_state.mu["small"].dtype == jnp.float32 and adam_state.mu["none"] is None
    assert adam_state.count.dtype == jnp.int32
    # min_size=0 quantizes the small leaf too; leaves of other shapes (the factored rows
    # of Adafactor) never are.
    state = gradtx.quantize_state(gradtx.adam(1e-3), min_size=0).init(params)
    assert isinstance(state.inner_state.inner_state[0].mu["small"], gradtx.QuantizedArray)
    state = gradtx.quantize_state(gradtx.adafactor(1e-3), min_size=0).init(
        {"w": jnp.ones((64, 128))}
    )
    quantized = [
        x
        for x in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, gradtx.QuantizedArray))
        if isinstance(x, gradtx.QuantizedArray)
    ]
    assert all(q.codes.shape == (64, 128) for q in quantized)


def _quadratic_run(tx, steps: int = 20):
    n = 8192
    a = jnp.asarray(np.logspace(-2, 1, n), jnp.float32)
    x = jnp.asarray(np.random.default_rng(1).standard_normal(n), jnp.float32)
    state = tx.init(x)

    @jax.jit
    def step(x, state):
        u, state = tx.update(a * x, state, x)
        return gradtx.apply_updates(x, u), state

    path = []
    for _ in range(steps):
        x, state = step(x, state)
        path.append(x)
    return jnp.stack(path), jnp.stack([jnp.sum(0.5 * a * p**2) for p in path])


def test_close_to_unquantized_adamw_on_a_quadratic():
    plain, loss_plain = _quadratic_run(gradtx.adamw(1e-2))
    quant, loss_quant = _quadratic_run(gradtx.quantize_state(gradtx.adamw(1e-2)))
    # The code keeps large entries of a block to 0.35% of its maximum (half a code gap)
    # but small ones only to a relative precision of 4.5 / 2**F (F fraction bits left
    # at their decade): an entry of nu 1e-3 of its block's maximum is stored to ~30%,
    # so its Adam step can change by ~15% of lr. Per element the paths can therefore
    # drift by a good part of lr * steps; on average and in the loss they must agree.
    # Measured (20 steps, lr 1e-2): max |dx| 0.025, mean |dx| 0.0020 against a mean
    # move of 0.17, loss within 8.6e-4 relative at every step.
    diff = jnp.abs(quant - plain)
    move = float(jnp.mean(jnp.abs(plain[-1] - plain[0])))
    assert move > 0.15
    assert 0 < float(jnp.mean(diff)) < 0.03 * move
    assert float(jnp.max(diff)) < 0.2 * 20 * 1e-2
    np.testing.assert_allclose(loss_quant, loss_plain, rtol=3e-3)
    assert float(loss_quant[-1]) < 0.75 * float(loss_quant[0])


def test_jit_cond_state_stability_none_leaves_and_bf16_params():
    params = {
        "w": jnp.ones((64, 80), jnp.bfloat16),
        "b": jnp.zeros(80, jnp.bfloat16),
        "none": None,
    }
    grads = {
        "w": jnp.full((64, 80), 0.5, jnp.bfloat16),
        "b": jnp.ones(80, jnp.bfloat16),
        "none": None,
    }
    tx = gradtx.quantize_state(gradtx.adamw(1e-2))
    s0 = tx.init(params)
    u, s1 = jax.jit(tx.update)(grads, s0, params)
    assert u["w"].dtype == jnp.bfloat16 and u["none"] is None
    assert jax.tree.structure(s0) == jax.tree.structure(s1)
    for a, b in zip(jax.tree.leaves(s0), jax.tree.leaves(s1), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
    # lax.cond needs identical state types on both branches.
    s2 = jax.lax.cond(True, lambda: s1, lambda: s0)
    assert jax.tree.structure(s2) == jax.tree.structure(s0)
    # The first Adam step is -lr * sign(g): quantization keeps it.
    np.testing.assert_allclose(np.asarray(u["w"], np.float32), -1e-2, rtol=1e-2)


def test_hyperparams_and_set_hyperparams_work_through_the_wrapper():
    params = {"w": jnp.ones((64, 64))}
    grads = {"w": jnp.full((64, 64), 2.0)}
    tx = gradtx.quantize_state(gradtx.adamw(1e-3, weight_decay=0.0))
    state = tx.init(params)
    assert float(gradtx.hyperparams(state)["learning_rate"]) == pytest.approx(1e-3)
    state = gradtx.set_hyperparams(state, learning_rate=0.05)
    u, state = jax.jit(tx.update)(grads, state, params)
    np.testing.assert_allclose(np.asarray(u["w"]), -0.05, rtol=1e-5)
    assert float(gradtx.hyperparams(state)["learning_rate"]) == pytest.approx(0.05)


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match=r"quantize_state\(bits=...\).*bits=4"):
        gradtx.quantize_state(gradtx.adam(1e-3), bits=4)
    with pytest.raises(ValueError, match=r"quantize_state\(block_size=...\).*block_size=0"):
        gradtx.quantize_state(gradtx.adam(1e-3), block_size=0)
    with pytest.raises(ValueError, match=r"quantize_state\(min_size=...\).*min_size=-1"):
        gradtx.quantize_state(gradtx.adam(1e-3), min_size=-1)
    with pytest.raises(ValueError, match=r"block_size=2.5"):
        gradtx.quantize_state(gradtx.adam(1e-3), block_size=2.5)
    with pytest.raises((TypeError, ValueError), match="quantize_state"):
        gradtx.quantize_state(lambda x: x)


# --- the digits MLP -----------------------------------------------------------------------


def _load_train_digits():
    path = ROOT / "examples" / "train_digits.py"
    spec = importlib.util.spec_from_file_location("_example_train_digits_q", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def test_digits_mlp_accuracy_matches_float32_adamw():
    td = _load_train_digits()
    data = td.load_data()
    epochs = 3

    def run(tx):
        init_key, shuffle_key = jax.random.split(jax.random.key(0))
        params = td.he_init(init_key)
        state = tx.init(params)
        epoch = td.make_epoch(tx, data.x_train, data.y_train, 64)
        for key in jax.random.split(shuffle_key, epochs):
            params, state, _ = epoch(params, state, key)
        return float(td.evaluate(params, data.x_test, data.y_test)[1]), state

    with jax.numpy_rank_promotion("allow"):  # the example adds biases by broadcasting
        acc_plain, _ = run(gradtx.adamw(1e-3))
        acc_quant, state = run(gradtx.quantize_state(gradtx.adamw(1e-3)))
    # Both hidden weight matrices (64x128 and 128x64) hold their moments in 8 bits.
    n_quantized = sum(
        isinstance(x, gradtx.QuantizedArray)
        for x in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, gradtx.QuantizedArray))
    )
    assert n_quantized == 4
    # Measured (3 epochs, batch 64, seed 0): float32 0.9156, 8-bit 0.9178 (one test
    # example of 450 apart). Seed 1: 0.9000 both; 4 epochs: 0.9422 / 0.9467 (seed 0),
    # 0.9289 / 0.9267 (seed 1); 6 epochs, batch 32: 0.9622 / 0.9622 and 0.9622 / 0.9667.
    assert acc_plain > 0.9
    assert abs(acc_quant - acc_plain) <= 0.005


# --- the guide page -----------------------------------------------------------------------


def test_guide_snippets_run_and_print_what_the_page_shows():
    page = ROOT / "docs" / "guide" / "quantized_state.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert len(blocks) == 3
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - the page's code
    assert out.getvalue().splitlines() == [
        "8.000 bytes per parameter",
        "2.031 bytes per parameter",
        "uint8 [0.1, -0.1]",
        "[-0.001, -0.001]",
        "float32",
        "0.01",
    ]


def test_state_survives_a_checkpoint_round_trip(tmp_path):
    params = {"w": jnp.ones((64, 64))}
    tx = gradtx.quantize_state(gradtx.adamw(1e-3))
    _, state = tx.update({"w": jnp.full((64, 64), 0.5)}, tx.init(params), params)
    path = tmp_path / "state.npz"
    gradtx.checkpoint.save(path, state)
    back = gradtx.checkpoint.restore(path, like=tx.init(params))
    assert jax.tree.structure(back) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(back), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
