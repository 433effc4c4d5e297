"""Optimizers against hand-computed updates, parameter groups, state, schedulers, step-size search.

The expected numbers are worked out by hand from PyTorch's documented formulas, written as
arithmetic on literals (one line per step), not by calling any of the code under test.
"""

import math

import numpy as np
import pytest

import autodiff as ad
from autodiff import nn
from autodiff.nn import optim


def _quadratic_steps(make, w0=1.0, steps=3, backend="numpy"):
    """Minimise f(w) = w²/2 (gradient w) from w0; return w after each step."""
    w = ad.Tensor(np.array([w0]), requires_grad=True, backend=backend)
    opt = make([w])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        (w * w / 2).sum().backward()
        opt.step()
        out.append(w.numpy()[0])
    return out


def test_sgd():
    assert _quadratic_steps(lambda p: optim.SGD(p, lr=0.1)) == pytest.approx([0.9, 0.81, 0.729])
    # weight decay 0.1: g = w + 0.1 w = 1.1 w, so w <- w (1 - 0.11)
    assert _quadratic_steps(lambda p: optim.SGD(p, lr=0.1, weight_decay=0.1), steps=2) == pytest.approx([0.89, 0.7921])


def test_sgd_momentum_and_nesterov():
    # b1 = g1 = 1, w1 = 1 - 0.1 = 0.9; b2 = 0.9*1 + 0.9 = 1.8, w2 = 0.9 - 0.18 = 0.72;
    # b3 = 0.9*1.8 + 0.72 = 2.34, w3 = 0.72 - 0.234 = 0.486
    assert _quadratic_steps(lambda p: optim.SGD(p, lr=0.1, momentum=0.9)) == pytest.approx([0.9, 0.72, 0.486])
    # Nesterov: step 1 uses g + 0.9 b = 1.9, w1 = 0.81; b2 = 0.9 + 0.81 = 1.71,
    # g + 0.9 b = 0.81 + 1.539 = 2.349, w2 = 0.81 - 0.2349 = 0.5751
    got = _quadratic_steps(lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), steps=2)
    assert got == pytest.approx([0.81, 0.5751])
    # dampening 0.5: b2 = 0.9*1 + 0.5*0.9 = 1.35, w2 = 0.9 - 0.135 = 0.765
    got = _quadratic_steps(lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5), steps=2)
    assert got == pytest.approx([0.9, 0.765])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([ad.Tensor([1.0], requires_grad=True)], lr=0.1, nesterov=True)


def test_adagrad():
    # s1 = 1, w1 = 1 - 0.1 * 1/1 = 0.9; s2 = 1 + 0.81 = 1.81, w2 = 0.9 - 0.1 * 0.9/sqrt(1.81)
    got = _quadratic_steps(lambda p: optim.AdaGrad(p, lr=0.1), steps=2)
    assert got == pytest.approx([0.9, 0.9 - 0.09 / math.sqrt(1.81)], rel=1e-9)
    # lr_decay 0.5: step 2 uses lr 0.1 / (1 + 0.5)
    got = _quadratic_steps(lambda p: optim.AdaGrad(p, lr=0.1, lr_decay=0.5), steps=2)
    assert got[1] == pytest.approx(0.9 - (0.1 / 1.5) * 0.9 / math.sqrt(1.81), rel=1e-9)
    assert optim.Adagrad is optim.AdaGrad


def test_rmsprop():
    # v1 = 0.01 * 1 = 0.01, w1 = 1 - 0.01 * 1/(0.1 + 1e-8);
    # v2 = 0.99*0.01 + 0.01*w1² , w2 = w1 - 0.01 * w1/(sqrt(v2) + 1e-8)
    w1 = 1 - 0.01 / (0.1 + 1e-8)
    v2 = 0.0099 + 0.01 * w1 * w1
    got = _quadratic_steps(lambda p: optim.RMSprop(p, lr=0.01), steps=2)
    assert got == pytest.approx([w1, w1 - 0.01 * w1 / (math.sqrt(v2) + 1e-8)], rel=1e-12)
    # momentum 0.5: buf1 = 1/(0.1+1e-8) -> w1 as above; buf2 = 0.5 buf1 + w1/(sqrt(v2)+1e-8)
    buf2 = 0.5 / (0.1 + 1e-8) + w1 / (math.sqrt(v2) + 1e-8)
    got = _quadratic_steps(lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5), steps=2)
    assert got[1] == pytest.approx(w1 - 0.01 * buf2, rel=1e-12)
    # centered: avg1 = sqrt(0.01 - 0.01²) = sqrt(0.0099)
    got = _quadratic_steps(lambda p: optim.RMSprop(p, lr=0.01, centered=True), steps=1)
    assert got[0] == pytest.approx(1 - 0.01 / (math.sqrt(0.0099) + 1e-8), rel=1e-12)


def test_adam():
    # step 1: m = 0.1, v = 0.001; m̂ = 1, v̂ = 1: w1 = 1 - 0.1 * 1/(1 + 1e-8)
    w1 = 1 - 0.1 / (1 + 1e-8)
    # step 2: m = 0.09 + 0.1 w1, v = 0.000999 + 0.001 w1²; corrections 1 - 0.81 and 1 - 0.998001
    m2, v2 = 0.09 + 0.1 * w1, 0.000999 + 0.001 * w1 * w1
    w2 = w1 - (0.1 / 0.19) * m2 / (math.sqrt(v2) / math.sqrt(0.001999) + 1e-8)
    assert _quadratic_steps(lambda p: optim.Adam(p, lr=0.1), steps=2) == pytest.approx([w1, w2], rel=1e-12)


def _fixed_grads(make, grads, w0):
    w = ad.Tensor(np.array(w0, dtype=float), requires_grad=True)
    opt = make([w])
    for g in grads:
        w.grad = np.array(g, dtype=float)
        opt.step()
    return w.numpy()


def test_adam_constant_gradient_moves_lr_per_step():
    # with a constant gradient c, m̂ = c and v̂ = c² at every step: each step is lr·c/(|c| + eps)
    got = _fixed_grads(lambda p: optim.Adam(p, lr=0.05), [[2.0, -0.5]] * 3, [0.0, 0.0])
    np.testing.assert_allclose(got, [-0.15 * 2 / (2 + 1e-8), 0.15 * 0.5 / (0.5 + 1e-8)], rtol=1e-12)


def test_amsgrad_keeps_the_largest_second_moment():
    # g1 = 1: m1 = 0.1, v1 = 0.001, w1 = -0.1/(1 + 1e-8)
    # g2 = 0: m2 = 0.09, v2 = 0.000999 < max 0.001: denom = sqrt(0.001)/sqrt(0.001999) + 1e-8
    w2 = -0.1 / (1 + 1e-8) - (0.1 / 0.19) * 0.09 / (math.sqrt(0.001) / math.sqrt(0.001999) + 1e-8)
    got = _fixed_grads(lambda p: optim.Adam(p, lr=0.1, amsgrad=True), [[1.0], [0.0]], [0.0])
    assert got[0] == pytest.approx(w2, rel=1e-12)


def test_adamw_decays_weights_before_the_adam_step():
    # w1 = 1·(1 - 0.1·0.5) - 0.1·c/(|c| + eps) with c = 2
    got = _fixed_grads(lambda p: optim.AdamW(p, lr=0.1, weight_decay=0.5), [[2.0]], [1.0])
    assert got[0] == pytest.approx(0.95 - 0.1 * 2 / (2 + 1e-8), rel=1e-12)
    assert optim.AdamW([ad.Tensor([1.0], requires_grad=True)]).defaults["weight_decay"] == 0.01


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.SGD(p, lr=0.1),  # plain SGD: its own loop, no state
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda p: optim.AdaGrad(p, lr=0.1),
        lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
        lambda p: optim.Adam(p, lr=0.1, amsgrad=True),
        lambda p: optim.AdamW(p, lr=0.1),
    ],
)
def test_scalar_back_end_matches_numpy(make):
    numpy_run = _quadratic_steps(make, w0=1.5, steps=3)
    scalar_run = _quadratic_steps(make, w0=1.5, steps=3, backend="scalar")
    np.testing.assert_allclose(scalar_run, numpy_run, rtol=1e-14)


def test_numpy_update_is_in_place_and_scalars_keep_identity():
    w = ad.Tensor(np.ones(3), requires_grad=True)
    storage = w.data
    w.grad = np.ones(3)
    optim.SGD([w], lr=0.5).step()
    assert w.data is storage and np.all(storage == 0.5)
    s = ad.Tensor(np.ones(2), requires_grad=True, backend="scalar")
    nodes = list(s.data.flat)
    (s * s).sum().backward()
    optim.SGD([s], lr=0.25).step()
    assert list(s.data.flat) == nodes and [n.data for n in nodes] == [0.5, 0.5]


@pytest.mark.parametrize("backend", ad.BACKENDS)
def test_a_subclass_of_sgd_that_changes_the_update_is_used(backend):
    class ClippedSGD(optim.SGD):
        def _update(self, w, g, state, group):
            super()._update(w, np.clip(g, -1.0, 1.0), state, group)

    w = ad.Tensor([0.0], requires_grad=True, backend=backend)
    (w * 100.0).sum().backward()
    ClippedSGD([w], lr=0.1).step()  # plain SGD's own loop must not bypass it
    np.testing.assert_allclose(w.numpy(), [-0.1])
    opt = optim.SGD([w], lr=0.1)  # nor one set on an instance
    plain = opt._update
    opt._update = lambda w, g, state, group: plain(w, np.clip(g, -1.0, 1.0), state, group)
    opt.step()
    np.testing.assert_allclose(w.numpy(), [-0.2])


def test_float32_parameters_stay_float32():
    w = ad.Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    for _ in range(2):
        w.grad = np.ones(2, np.float32)
        opt.step()
    assert w.dtype == np.float32 and opt.state[id(w)]["exp_avg"].dtype == np.float32
    v = ad.Tensor(np.ones(2, np.float32), requires_grad=True)
    v.grad = np.ones(2, np.float32)
    opt = optim.SGD([v], lr=0.1)
    opt.step()
    assert v.dtype == np.float32 and v.numpy()[0] == np.float32(0.9) and opt.state == {}  # plain SGD keeps no state


def test_parameter_groups():
    w = ad.Tensor(np.array([1.0]), requires_grad=True)
    b = ad.Tensor(np.array([1.0]), requires_grad=True)
    opt = optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
    w.grad, b.grad = np.ones(1), np.ones(1)
    opt.step()
    assert w.numpy()[0] == pytest.approx(0.9) and b.numpy()[0] == pytest.approx(0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    with pytest.raises(ValueError, match="more than one group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        optim.SGD([{"params": [w], "betas": (0.9, 0.99)}], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([w], lr=-1.0)
    with pytest.raises(ValueError, match="leaf"):
        optim.SGD([w * 2], lr=0.1)
    model = nn.Linear(2, 2, rng=0)
    assert len(optim.SGD(model, lr=0.1).param_groups[0]["params"]) == 2  # a Module is accepted


def test_parameters_without_gradients_are_skipped():
    w = ad.Tensor(np.array([1.0]), requires_grad=True)
    optim.Adam([w]).step()
    assert w.numpy()[0] == 1.0


def test_optimizer_state_dict_round_trip():
    def run(opt_state=None, steps=2):
        w = ad.Tensor(np.array([1.0, -2.0]), requires_grad=True)
        opt = optim.Adam([w], lr=0.1)
        if opt_state is not None:
            w.data[...] = opt_state[0]
            opt.load_state_dict(opt_state[1])
        for _ in range(steps):
            opt.zero_grad()
            (w * w).sum().backward()
            opt.step()
        return w.numpy().copy(), opt.state_dict()

    w_a, state_a = run(steps=2)
    w_full, _ = run(steps=4)
    w_resumed, _ = run((w_a, state_a), steps=2)
    np.testing.assert_array_equal(w_resumed, w_full)
    assert state_a["state"][0]["step"] == 2 and state_a["param_groups"][0]["params"] == [0]
    state_a["state"][0]["exp_avg"][...] = 99.0  # a copy: the optimizer is unaffected
    two = [ad.Tensor([1.0], requires_grad=True), ad.Tensor([1.0], requires_grad=True)]
    with pytest.raises(ValueError, match="groups"):
        optim.Adam(two).load_state_dict(state_a)


def _lrs(make, epochs):
    opt = optim.SGD([ad.Tensor([1.0], requires_grad=True)], lr=1.0)
    sched = make(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        sched.step()
    return out


def test_schedulers():
    assert _lrs(lambda o: optim.StepLR(o, step_size=2, gamma=0.1), 5) == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    assert _lrs(lambda o: optim.ExponentialLR(o, gamma=0.5), 3) == pytest.approx([1, 0.5, 0.25])
    # cos(pi/4) = 0.70710678: (1 + 0.70710678)/2 = 0.85355339
    got = _lrs(lambda o: optim.CosineLR(o, T_max=4, eta_min=0.0), 5)
    assert got == pytest.approx([1, 0.85355339, 0.5, 0.14644661, 0.0])
    assert optim.CosineAnnealingLR is optim.CosineLR


def test_find_step_size_picks_the_best_tried_rate_and_restores_the_model():
    X, y = ad.datasets.blobs(400, centers=3, std=1.0, rng=0)
    X = (X - X.mean(0)) / X.std(0)
    model = nn.MLP([2, 16, 3], rng=0)
    before = model.state_dict()
    lr, losses = optim.find_step_size(model, nn.cross_entropy, X, y, steps=10, refine=2, rng=0, return_losses=True)
    assert lr == min(losses, key=losses.get)
    assert set(losses) >= {1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0}
    assert losses[lr] < losses[1e-4] and 0.01 <= lr <= 10  # tiny steps barely move
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())
