"""The migration pages tell the truth: docs/migrating_from_torch.md and migrating_from_optax.md.

The torch page's two tables are the single source of truth: each row's torch cell and
gradtx cell are Python expressions, evaluated here with the names of the table bound to
numbers (two settings per scheduler), and run side by side against torch (2.13, CPU) in
float64. The tolerance is the row's **checked** column; a row "not checked" must say why,
and the set of such rows is pinned here. The optax page's code blocks run in order and
must print what the page shows.
"""

from __future__ import annotations

import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _guides import run_page
from parity._sequences import run_optax_like, run_torch, standard_data, trajectory_error, x64

import gradtx

torch = pytest.importorskip("torch")

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
TORCH_PAGE = DOCS / "migrating_from_torch.md"

# ------------------------------------------------------------------ the torch tables


def table(section: str) -> list[dict[str, str]]:
    """The rows of the first table under ``## {section}``: torch, gradtx, checked, note."""
    text = TORCH_PAGE.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in body.splitlines():
        if not line.startswith("| `") and not line.startswith("| —"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 4, line
        rows.append(dict(zip(("torch", "gradtx", "checked", "note"), cells, strict=True)))
    return rows


def code(cell: str) -> str:
    match = re.fullmatch(r"`([^`]+)`", cell)
    assert match, f"not a code cell: {cell!r}"
    return match[1]


def tolerance(checked: str) -> float:
    match = re.match(r"(\d(?:\.\d+)?e-\d+)\b", checked)
    assert match, f"the checked column must start with a tolerance: {checked!r}"
    return float(match[1])


def row_id(row: dict[str, str]) -> str:
    return code(row["torch"]).replace("params, ", "").replace("opt, ", "")[:60]


OPTIMIZERS = table("Optimizers")
SCHEDULERS = table("Learning-rate schedulers")
UNCHECKED = [r for r in OPTIMIZERS if r["checked"].startswith("not checked")]
CHECKED = [r for r in OPTIMIZERS if not r["checked"].startswith("not checked")]

# The names of the optimizer table, bound to numbers that exercise every term (a weight
# decay, an eps large enough to matter, Rprop's bounds binding within the run, ...).
OPTIMIZER_NAMES = dict(
    lr=0.1,
    b1=0.8,
    b2=0.99,
    eps=1e-6,
    wd=0.05,
    momentum=0.9,
    dampening=0.3,
    alpha=0.95,
    rho=0.95,
    lr_decay=0.05,
    acc0=0.1,
    momentum_decay=4e-3,
    eta_minus=0.5,
    eta_plus=1.2,
    min_step=0.03,
    max_step=0.2,
    lambd=0.05,
    power=0.75,
)


def test_tables_cover_torch():
    """Every torch.optim optimizer and the common schedulers have a row."""
    optimizers = {code(r["torch"]).split("(")[0] for r in OPTIMIZERS}
    expected = {
        "SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta",
        "Rprop", "ASGD", "LBFGS", "SparseAdam", "Adafactor", "Muon",
    }  # fmt: skip
    assert optimizers == expected
    # Every torch optimizer class is in the table.
    public = {
        n
        for n in dir(torch.optim)
        if isinstance(getattr(torch.optim, n), type)
        and issubclass(getattr(torch.optim, n), torch.optim.Optimizer)
        and n != "Optimizer"
    }
    assert public <= expected, public - expected
    schedulers = {code(r["torch"]).split("(")[0] for r in SCHEDULERS}
    assert schedulers == {
        "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
        "CosineAnnealingWarmRestarts", "OneCycleLR", "LinearLR", "ConstantLR", "PolynomialLR",
        "CyclicLR", "SequentialLR", "LambdaLR", "ReduceLROnPlateau",
    }  # fmt: skip


def test_unchecked_rows_are_the_known_ones_and_say_why():
    assert {code(r["torch"]).split("(")[0] for r in UNCHECKED} == {"LBFGS", "SparseAdam"}
    for row in UNCHECKED:
        assert re.match(r"not checked: \w+", row["checked"]), row
        assert len(row["note"]) > 40, row


def _optimizer_data(torch_code: str):
    if torch_code.startswith("Muon("):  # torch's Muon takes matrices only
        rng = np.random.default_rng(3)
        shapes = {"w": (3, 5), "tall": (6, 4)}
        params = {k: rng.normal(size=s) + 0.5 for k, s in shapes.items()}
        grads = [
            {k: rng.normal(size=s) * 10.0 ** rng.uniform(-2, 1) for k, s in shapes.items()}
            for _ in range(6)
        ]
        return params, grads
    return standard_data()


@pytest.mark.parametrize("row", CHECKED, ids=[row_id(r) for r in CHECKED])
def test_optimizer_row_matches_torch(row):
    torch_code, gradtx_code = code(row["torch"]), code(row["gradtx"])
    rtol = tolerance(row["checked"])
    params, grads = _optimizer_data(torch_code)
    names = dict(OPTIMIZER_NAMES)
    namespace = {"gradtx": gradtx, "jax": jax, "jnp": jnp, **names}
    with x64():
        tx = eval(gradtx_code, namespace)  # noqa: S307 - the page's cell
        got = run_optax_like(tx, params, grads)

    def make(tensors, **_):
        return eval(torch_code, {**vars(torch.optim), **names, "params": tensors})  # noqa: S307

    want = run_torch(make, params, grads)
    error = trajectory_error(got, want)
    assert error <= rtol, f"{torch_code}: relative error {error:.2e} > {rtol:.0e}"
    # The tolerance is not looser than it needs to be (by more than a factor of 1000).
    if rtol > 1e-10:
        assert error > rtol / 1000, f"{torch_code}: error {error:.1e}; tighten {rtol:.0e}"


def test_a_wrong_configuration_fails_the_check():
    """The comparison catches the classic mistakes the notes warn about."""
    params, grads = standard_data()
    n = OPTIMIZER_NAMES

    def err(tx, torch_cls, **kw):
        with x64():
            got = run_optax_like(tx, params, grads)
        return trajectory_error(got, run_torch(torch_cls, params, grads, **kw))

    kw = dict(lr=n["lr"], alpha=n["alpha"], eps=n["eps"])
    # eps inside the root (optax's RMSprop) is not torch's.
    assert err(gradtx.rmsprop(n["lr"], n["alpha"], n["eps"]), torch.optim.RMSprop, **kw) > 1e-4
    # Adam's coupled weight decay is not AdamW's.
    kw = dict(lr=n["lr"], weight_decay=n["wd"])
    assert err(gradtx.adamw(n["lr"], weight_decay=n["wd"]), torch.optim.Adam, **kw) > 1e-4


# The names of the scheduler table, two settings each.
SCHEDULER_NAMES = [
    dict(
        lr=0.5, step_size=4, gamma=0.75, milestones=[3, 7, 12], T_max=29, eta_min=0.05, T_0=4,
        T_mult=2, max_lr=0.8, N=30, pct=0.3, div=25.0, final=1e4, start_factor=0.25,
        end_factor=1.0, total_iters=12, factor=0.5, power=2.0, base_lr=0.1, step_size_up=5,
        step_size_down=3, mode="triangular2", warmup=5, f=lambda t: 1.0 / (1.0 + 0.1 * t),
        patience=1, threshold=1e-3, cooldown=1, min_lr=0.02,
    ),
    dict(
        lr=2.0, step_size=1, gamma=0.9, milestones=[0, 10], T_max=35, eta_min=0.0, T_0=3,
        T_mult=1, max_lr=1.5, N=40, pct=0.25, div=10.0, final=100.0, start_factor=1.0,
        end_factor=0.1, total_iters=7, factor=0.25, power=0.5, base_lr=0.2, step_size_up=4,
        step_size_down=4, mode="exp_range", warmup=10, f=lambda t: 0.95**t,
        patience=0, threshold=0.1, cooldown=0, min_lr=1e-3,
    ),
]  # fmt: skip
STEPS = 30
# ReduceLROnPlateau's input: plateaus, small improvements under the threshold, a rise.
LOSSES = [5.0, 4.0, 4.0, 3.9999, 4.1, 3.0, 3.0, 3.0, 3.0, 2.9, 2.9, 2.9, 2.9, 2.9, 1.0, 1.0]
LOSSES = LOSSES + [1.2, 0.99, 0.99, 0.98, 0.5, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4]


def _torch_lrs(torch_code: str, names: dict) -> np.ndarray:
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.SGD([param], lr=names["lr"])
    scope = {**vars(torch.optim.lr_scheduler), **names, "opt": optimizer}
    scheduler = eval(torch_code, scope)  # noqa: S307 - the page's cell
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    lrs = []
    for t in range(len(LOSSES) if plateau else STEPS):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step(LOSSES[t]) if plateau else scheduler.step()
    return np.asarray(lrs)


def _gradtx_lrs(gradtx_code: str, names: dict) -> np.ndarray:
    scope = {**{n: getattr(gradtx.schedules, n) for n in gradtx.schedules.__all__}, **names}
    scope["gradtx"] = gradtx
    with x64():
        built = eval(gradtx_code, scope)  # noqa: S307 - the page's cell
        if not isinstance(built, gradtx.GradientTransformation):
            values = built(jnp.arange(STEPS))
            assert values.dtype == jnp.float64
            return np.asarray(values)
        # A transformation (ReduceLROnPlateau): the step it takes for a unit gradient.
        update = jax.jit(built.update)
        state, lrs, param = built.init(jnp.zeros(1)), [], jnp.zeros(1)
        for loss in LOSSES:
            step, state = update(jnp.ones(1), state, param, value=jnp.asarray(loss))
            lrs.append(-float(step[0]))
        return np.asarray(lrs)


def _plateau_lrs_after(lrs: np.ndarray) -> np.ndarray:
    """torch's lr before each ``scheduler.step(loss)`` is the one gradtx takes a step
    later: gradtx's update ``t`` already reacts to the loss it is given."""
    return lrs[1:]


@pytest.mark.parametrize("row", SCHEDULERS, ids=[row_id(r) for r in SCHEDULERS])
@pytest.mark.parametrize("setting", [0, 1])
def test_scheduler_row_matches_torch(row, setting):
    names = SCHEDULER_NAMES[setting]
    want = _torch_lrs(code(row["torch"]), names)
    got = _gradtx_lrs(code(row["gradtx"]), names)
    if code(row["torch"]).startswith("ReduceLROnPlateau"):
        want, got = _plateau_lrs_after(want), got[:-1]
        assert want[-1] < names["lr"]  # the losses do make torch reduce
    assert len(set(np.round(want, 12))) > 1  # the rate changes within the steps compared
    np.testing.assert_allclose(got, want, rtol=tolerance(row["checked"]), atol=1e-14)


def test_torch_page_code_runs():
    printed, _ = run_page(TORCH_PAGE, expected_blocks=1)
    assert printed == ["loss 6.1e-05, lr now 1.25e-02"]
    assert "```text\nloss 6.1e-05, lr now 1.25e-02\n```" in TORCH_PAGE.read_text()


# ------------------------------------------------------------------ the optax page

OPTAX_PAGE = DOCS / "migrating_from_optax.md"


def test_optax_page_code_runs_and_prints_what_the_page_shows():
    """Every python block runs (in order, one namespace) and its output is the ```text
    block that follows it on the page."""
    text = OPTAX_PAGE.read_text()
    blocks = re.findall(r"```python\n(.*?)```\n\n```text\n(.*?)```", text, flags=re.S)
    assert len(blocks) == len(re.findall(r"```python\n", text)) == 11
    printed, namespace = run_page(OPTAX_PAGE, expected_blocks=11)
    shown = [line for _, out in blocks for line in out.splitlines()]
    assert printed == shown
    # The first block trains: the fit is close to the generating weights.
    assert namespace["optax"] is gradtx
    np.testing.assert_allclose(namespace["params"]["w"], [1.0, -2.0, 0.5], atol=0.02)


def test_optax_behaves_as_the_page_says():
    """The optax side of each difference the page shows, measured on optax itself."""
    optax = pytest.importorskip("optax")
    text = OPTAX_PAGE.read_text()
    p = jnp.zeros(2)
    rprop = optax.rprop(0.1)
    updates, _ = rprop.update(jnp.array([1.0, -2.0]), rprop.init(p), p)
    assert np.all(np.asarray(updates) == 0.0) and "`[-0. -0.]`" in text

    tx = optax.apply_if_finite(optax.sgd(1.0), max_consecutive_errors=2)
    state, through = tx.init(p), []
    for _ in range(5):
        updates, state = tx.update(jnp.full(2, jnp.nan), state, p)
        through.append(bool(jnp.isnan(updates).any()))
    assert through == [False, False, True, True, True] and str(through) in text

    clip = optax.clip_by_global_norm(1.0)
    assert type(clip.update(jnp.array([3.0, 4.0]), clip.init(None))[1]).__name__ == "EmptyState"
    assert optax.monitor({"norm": optax.tree.norm}).init(p).measurements == {}

    plateau = optax.contrib.reduce_on_plateau(factor=0.5, patience=1, rtol=0.1)
    state, scales = plateau.init(None), []
    for loss in [-10.0, -9.5, -9.6, -9.7]:
        _, state = plateau.update(jnp.zeros(1), state, value=loss)
        scales.append(float(state.scale))
    assert scales == [1.0] * 4 and f"optax: {scales}" in text

    assert float(optax.warmup_constant_schedule(0.1, 1.0, warmup_steps=0)(5)) == pytest.approx(0.1)
    optax.join_schedules([optax.constant_schedule(1.0)] * 3, boundaries=[20, 10])  # accepted

    two = {"backbone": jnp.ones(2), "head": jnp.ones(2)}
    tx = optax.selective_transform(
        optax.sgd(0.1), freeze_mask=lambda p: {"backbone": True, "head": False}
    )
    updates, _ = tx.update(two, tx.init(two))
    assert all(np.all(np.asarray(u) == 0.0) for u in jax.tree.leaves(updates))

    bf16 = {"w": jnp.ones(3, jnp.bfloat16)}
    hps = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1, momentum=0.9).init(bf16)
    assert float(hps.hyperparams["learning_rate"]) == 0.10009765625
    assert float(hps.hyperparams["momentum"]) == 0.8984375
    assert "0.10009765625" in text and "0.8984375" in text

    params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    chained = optax.chain(optax.adam(1e-3), optax.add_noise(0.01, 0.55, 0)).init(params)
    assert optax.tree.get(chained, "1/count") is None
