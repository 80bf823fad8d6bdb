"""gradtx.masks: masks and labels by parameter path, on dicts, Flax and Equinox trees."""

from __future__ import annotations

import contextlib
import functools
import io
import pathlib
import re

import equinox as eqx
import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import gradtx
from gradtx._treeutil import is_tree_function

PARAMS = {
    "layer": {"kernel": jnp.ones((2, 3)), "bias": jnp.ones(3)},
    "LayerNorm_0": {"scale": jnp.ones(3), "bias": jnp.ones(3)},
    "blocks": [{"kernel": jnp.ones((3, 3))}, {"kernel_norm": jnp.ones(3)}],
    "frozen": None,
}


def selected(mask_fn, params=PARAMS):
    """The paths at which ``mask_fn(params)`` is True, sorted."""
    mask = mask_fn(params)
    flat = jax.tree_util.tree_flatten_with_path(mask)[0]
    return sorted(jax.tree_util.keystr(p) for p, m in flat if m)


# --------------------------------------------------------------------------- patterns


def test_paths_lists_keystr_paths_without_none_leaves():
    assert gradtx.masks.paths(PARAMS) == [
        "['LayerNorm_0']['bias']",
        "['LayerNorm_0']['scale']",
        "['blocks'][0]['kernel']",
        "['blocks'][1]['kernel_norm']",
        "['layer']['bias']",
        "['layer']['kernel']",
    ]


@pytest.mark.parametrize(
    "patterns, expected",
    [
        (("*kernel",), ["['blocks'][0]['kernel']", "['layer']['kernel']"]),
        (("*bias",), ["['LayerNorm_0']['bias']", "['layer']['bias']"]),
        # Case is ignored by default, so linen's "LayerNorm_0" is a norm.
        (
            ("*norm*",),
            ["['LayerNorm_0']['bias']", "['LayerNorm_0']['scale']", "['blocks'][1]['kernel_norm']"],
        ),
        (("['layer']['kernel']",), ["['layer']['kernel']"]),  # the full text, brackets literal
        # "layer*": every path under a top-level key starting with "layer", any case.
        (
            ("layer*",),
            [
                "['LayerNorm_0']['bias']",
                "['LayerNorm_0']['scale']",
                "['layer']['bias']",
                "['layer']['kernel']",
            ],
        ),
        (("['layer']*",), ["['layer']['bias']", "['layer']['kernel']"]),
        (("*[0]*",), ["['blocks'][0]['kernel']"]),
        (
            ("blocks*", "*scale"),
            ["['LayerNorm_0']['scale']", "['blocks'][0]['kernel']", "['blocks'][1]['kernel_norm']"],
        ),
        (("*ker?el",), ["['blocks'][0]['kernel']", "['layer']['kernel']"]),
        (("kernel",), []),  # no wildcard: only a top-level key named kernel
        (("*",), sorted(gradtx.masks.paths(PARAMS))),
    ],
)
def test_by_path_patterns(patterns, expected):
    assert selected(gradtx.masks.by_path(*patterns)) == expected


def test_by_path_case_sensitive_and_none_leaves():
    assert selected(gradtx.masks.by_path("*Norm*", case_sensitive=True)) == [
        "['LayerNorm_0']['bias']",
        "['LayerNorm_0']['scale']",
    ]
    mask = gradtx.masks.by_path("*")(PARAMS)
    assert mask["frozen"] is None  # None leaves stay None
    assert jax.tree.structure(mask) == jax.tree.structure(PARAMS)


def test_by_path_is_a_comparable_plain_function():
    a, b = gradtx.masks.by_path("*kernel"), gradtx.masks.by_path("*kernel")
    assert a == b and hash(a) == hash(b) and a != gradtx.masks.by_path("*bias")
    assert is_tree_function(a)
    assert repr(a) == "gradtx.masks.by_path('*kernel')"
    labels = gradtx.labels_by_path({"*": "x"})
    assert labels == gradtx.labels_by_path({"*": "x"}) and is_tree_function(labels)


def test_by_path_errors():
    with pytest.raises(ValueError, match=r"`gradtx.masks.by_path` needs at least one pattern"):
        gradtx.masks.by_path()
    with pytest.raises(TypeError, match=r"patterns must be strings .* got list \['\*a'\]"):
        gradtx.masks.by_path(["*a"])
    with pytest.raises(ValueError, match=r"a pattern must not be empty"):
        gradtx.masks.by_path("")


# --------------------------------------------------------------------------- labels


def test_labels_by_path_first_match_wins_and_default():
    labels = gradtx.labels_by_path({"*norm*": "no_decay", "*kernel*": "decay"}, default="rest")
    out = labels(PARAMS)
    assert out["blocks"][1]["kernel_norm"] == "no_decay"  # matches both: the first wins
    assert out["layer"] == {"kernel": "decay", "bias": "rest"}
    assert out["LayerNorm_0"] == {"scale": "no_decay", "bias": "no_decay"}
    assert out["frozen"] is None
    swapped = gradtx.labels_by_path({"*kernel*": "decay", "*norm*": "no_decay"}, default="x")
    assert swapped(PARAMS)["blocks"][1]["kernel_norm"] == "decay"


def test_labels_by_path_errors():
    labels = gradtx.labels_by_path({"*kernel": "k"})
    with pytest.raises(
        ValueError,
        match=r"no pattern matches the parameter at \['LayerNorm_0'\]\['bias'\]; "
        r"patterns: \['\*kernel'\]\. .*default=",
    ):
        labels(PARAMS)
    with pytest.raises(TypeError, match=r"`gradtx.labels_by_path\(rules=...\)` must be a mapping"):
        gradtx.labels_by_path([("*", "a")])
    with pytest.raises(ValueError, match=r"the label of pattern '\*' is None"):
        gradtx.labels_by_path({"*": None})
    with pytest.raises(TypeError, match=r"the label of pattern '\*' must be hashable"):
        gradtx.labels_by_path({"*": ["a"]})
    with pytest.raises(TypeError, match=r"default must be hashable and a single pytree leaf"):
        gradtx.labels_by_path({"*": "a"}, default=("a", "b"))
    with pytest.raises(ValueError, match=r"needs at least one rule"):
        gradtx.labels_by_path({})
    assert gradtx.labels_by_path({}, default="all")({"w": jnp.ones(1)}) == {"w": "all"}


# --------------------------------------------------------------------------- the rule


class _CallableObject:
    def __call__(self, params):
        return jax.tree.map(lambda _: True, params)


def test_function_rule_callable_leaves_are_functions_callable_pytrees_are_trees():
    mlp = eqx.nn.MLP(2, 2, 3, 1, key=jax.random.key(0))
    assert callable(mlp)  # an Equinox module is callable ...
    assert not is_tree_function(mlp)  # ... but it is a pytree: a tree of masks, not a function
    model = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
    assert callable(model) and not is_tree_function(model)
    for fn in (
        lambda p: p,
        functools.partial(jax.tree.map, lambda _: True),
        jax.tree_util.Partial(jax.tree.map, lambda _: True),
        _CallableObject(),
        gradtx.masks.by_path("*"),
    ):
        assert is_tree_function(fn), fn
    for tree in ({"w": True}, True, nnx.state(model, nnx.Param)):
        assert not is_tree_function(tree)


def test_masked_reads_an_equinox_module_mask_as_a_tree():
    params = eqx.filter(eqx.nn.MLP(2, 2, 3, 1, key=jax.random.key(0)), eqx.is_inexact_array)
    mask = jax.tree.map(lambda x: x.ndim == 2, params)  # an MLP of booleans: still callable
    assert callable(mask)
    tx = gradtx.masked(gradtx.scale(0.0), mask)
    out, _ = tx.update(params, tx.init(params), params)
    for layer, orig in zip(out.layers, params.layers, strict=True):
        np.testing.assert_array_equal(layer.weight, 0.0)
        np.testing.assert_array_equal(layer.bias, orig.bias)


# --------------------------------------------------------------------------- frameworks


class _NnxModel(nnx.Module):
    def __init__(self, rngs):
        self.layer = nnx.Linear(2, 3, rngs=rngs)
        self.norm = nnx.LayerNorm(3, rngs=rngs)
        self.head = nnx.Linear(3, 1, rngs=rngs)

    def __call__(self, x):
        return self.head(self.norm(self.layer(x)))


def _nnx_step_with_zero_grads(tx):
    """One nnx.Optimizer step with zero gradients; return the params before and after."""
    model = _NnxModel(nnx.Rngs(0))
    before = jax.tree.map(np.array, nnx.state(model, nnx.Param))
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
    grads = jax.tree.map(jnp.zeros_like, nnx.state(model, nnx.Param))
    opt.update(model, grads)
    after = jax.tree.map(np.array, nnx.state(model, nnx.Param))
    return before, after


def _changed(before, after):
    flat_b = jax.tree_util.tree_flatten_with_path(before)[0]
    flat_a = jax.tree.leaves(after)
    return sorted(
        jax.tree_util.keystr(p)
        for (p, b), a in zip(flat_b, flat_a, strict=True)
        if not np.array_equal(a, b)
    )


def test_adamw_decays_only_kernels_of_an_nnx_model():
    # The one-liner of the issue. Zero gradients: Adam's step is 0, so a leaf changes only
    # by decoupled weight decay, p <- p - lr * wd * p.
    tx = gradtx.adamw(1e-3, weight_decay=0.05, mask=gradtx.masks.by_path("*kernel"))
    before, after = _nnx_step_with_zero_grads(tx)
    assert _changed(before, after) == ["['head']['kernel'].value", "['layer']['kernel'].value"]
    np.testing.assert_allclose(
        after["layer"]["kernel"].value,
        before["layer"]["kernel"].value * (1 - 1e-3 * 0.05),
        rtol=1e-6,
    )


def test_nnx_state_mask_tree_works_in_nnx_optimizer():
    # nnx.Optimizer gives init the state with its nnx.Variable wrappers and update the
    # plain state; a mask tree built from nnx.state has the former's node types, so it is
    # matched by path (optax.masked raises a structure error here).
    model = _NnxModel(nnx.Rngs(0))
    mask = jax.tree.map(lambda x: x.ndim == 1, nnx.state(model, nnx.Param))
    tx = gradtx.chain(gradtx.sgd(0.5), gradtx.freeze(mask))
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
    before = jax.tree.map(np.array, nnx.state(model, nnx.Param))
    opt.update(model, jax.tree.map(jnp.ones_like, nnx.state(model, nnx.Param)))
    after = jax.tree.map(np.array, nnx.state(model, nnx.Param))
    assert _changed(before, after) == [
        "['head']['kernel'].value",
        "['layer']['kernel'].value",
    ]


def test_nnx_state_label_tree_works_in_nnx_optimizer():
    model = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
    labels = jax.tree.map(lambda x: "frozen" if x.ndim == 2 else "sgd", nnx.state(model, nnx.Param))
    tx = gradtx.partition({"frozen": gradtx.set_to_zero(), "sgd": gradtx.sgd(0.5)}, labels)
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
    kernel, bias = np.array(model.kernel.value), np.array(model.bias.value)
    opt.update(model, jax.tree.map(jnp.ones_like, nnx.state(model, nnx.Param)))
    np.testing.assert_array_equal(model.kernel.value, kernel)
    np.testing.assert_allclose(model.bias.value, bias - 0.5, rtol=1e-6)


def test_partition_with_labels_by_path_on_an_nnx_model_under_jit():
    model = _NnxModel(nnx.Rngs(0))
    labels = gradtx.labels_by_path({"head*": "head"}, default="body")
    tx = gradtx.partition({"head": gradtx.sgd(1.0), "body": gradtx.sgd(0.25)}, labels)
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
    before = jax.tree.map(np.array, nnx.state(model, nnx.Param))

    @nnx.jit
    def step(model, opt):
        opt.update(model, jax.tree.map(jnp.ones_like, nnx.state(model, nnx.Param)))

    step(model, opt)
    after = jax.tree.map(np.array, nnx.state(model, nnx.Param))
    delta = jax.tree.map(lambda a, b: float(np.max(np.abs(a - b))), after, before)
    expected = {"head": 1.0, "layer": 0.25, "norm": 0.25}  # sgd: |step| = lr * 1
    for module, lr in expected.items():
        for leaf in jax.tree.leaves(delta[module]):
            assert leaf == pytest.approx(lr, rel=1e-6), module


def test_linen_params():
    class Net(linen.Module):
        @linen.compact
        def __call__(self, x):
            return linen.Dense(1)(linen.LayerNorm()(linen.Dense(3)(x)))

    variables = Net().init(jax.random.key(0), jnp.ones((1, 2)))
    assert selected(gradtx.masks.by_path("*norm*"), variables) == [
        "['params']['LayerNorm_0']['bias']",
        "['params']['LayerNorm_0']['scale']",
    ]
    tx = gradtx.adamw(1e-3, weight_decay=0.5, mask=gradtx.masks.by_path("*kernel"))
    zeros = jax.tree.map(jnp.zeros_like, variables)
    updates, _ = jax.jit(tx.update)(zeros, tx.init(variables), variables)
    nonzero = selected(lambda u: jax.tree.map(lambda x: bool(jnp.any(x != 0)), u), updates)
    assert nonzero == ["['params']['Dense_0']['kernel']", "['params']['Dense_1']['kernel']"]


def test_equinox_module_masks_and_labels():
    params = eqx.filter(eqx.nn.MLP(2, 2, 3, 1, key=jax.random.key(0)), eqx.is_inexact_array)
    assert selected(gradtx.masks.by_path("*weight"), params) == [
        ".layers[0].weight",
        ".layers[1].weight",
    ]
    labels = gradtx.labels_by_path({"*layers[1]*": "head"}, default="body")
    tx = gradtx.partition({"head": gradtx.scale(0.0), "body": gradtx.scale(2.0)}, labels)
    out, state = tx.update(params, tx.init(params), params)
    np.testing.assert_array_equal(out.layers[1].weight, 0.0)
    np.testing.assert_array_equal(out.layers[0].weight, 2.0 * params.layers[0].weight)
    # A label tree that is itself an (callable) Equinox module is read as a tree.
    label_tree = jax.tree.map(lambda x: "head" if x.ndim == 2 else "body", params)
    tx = gradtx.partition({"head": gradtx.scale(0.0), "body": gradtx.scale(2.0)}, label_tree)
    out, _ = tx.update(params, tx.init(params), params)
    np.testing.assert_array_equal(out.layers[0].weight, 0.0)
    np.testing.assert_array_equal(out.layers[0].bias, 2.0 * params.layers[0].bias)


# --------------------------------------------------------------------------- mask kinds


def test_prefix_function_and_nested_masks_agree():
    params = {"enc": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}, "dec": jnp.ones(2)}
    prefix = {"enc": True, "dec": False}
    by_fn = lambda p: {"enc": jax.tree.map(lambda _: True, p["enc"]), "dec": False}  # noqa: E731
    by_pattern = gradtx.masks.by_path("enc*")
    outs = []
    for mask in (prefix, by_fn, by_pattern):
        tx = gradtx.masked(gradtx.scale(0.0), mask)
        outs.append(tx.update(params, tx.init(params), params)[0])
    for out in outs:
        np.testing.assert_array_equal(out["enc"]["kernel"], 0.0)
        np.testing.assert_array_equal(out["dec"], 1.0)
    # Nested: the inner mask sees the outer one's MaskedNodes and selects further.
    inner = gradtx.masked(gradtx.scale(0.0), gradtx.masks.by_path("*kernel"))
    tx = gradtx.masked(inner, gradtx.masks.by_path("enc*"))
    out, state = tx.update(params, tx.init(params), params)
    np.testing.assert_array_equal(out["enc"]["kernel"], 0.0)
    np.testing.assert_array_equal(out["enc"]["bias"], 1.0)
    np.testing.assert_array_equal(out["dec"], 1.0)


def test_mask_matched_by_path_still_names_the_differing_paths():
    params = {"w": jnp.ones(2), "b": jnp.ones(2)}
    with pytest.raises(
        ValueError,
        match=r"`masked`: the mask must have the structure of the parameters \(or a prefix "
        r"of it\); only in the mask: \['x'\]; not covered by the mask: \['b'\]\.",
    ):
        gradtx.masked(gradtx.identity(), {"w": True, "x": False}).init(params)


# --------------------------------------------------------------------------- the guide


def test_guide_snippets_run_and_print_what_the_page_shows():
    page = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide" / "masks.md"
    text = page.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 6
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - the page's code
    printed = out.getvalue().splitlines()
    shown = re.findall(r"```text\n(.*?)```", text, flags=re.S)
    assert printed[0] == "[0. 0.] [1.]"
    assert printed[1:3] == shown[0].splitlines()
    assert printed[3] == "[\"['layer']['kernel'].value\"]"
    assert printed[4:6] == shown[1].splitlines()
    assert printed[6:7] == shown[2].splitlines()
    assert printed[7] == "{'bias': MaskedNode(), 'kernel': MaskedNode()}"
    for line in (printed[0], printed[3], printed[7]):
        assert f"`{line}`" in text.replace("\n", " ")
