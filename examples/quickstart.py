"""Quickstart: the same tiny program on both back ends, checked against finite differences."""

import numpy as np

import autodiff as ad

rng = np.random.default_rng(0)
X = rng.standard_normal((8, 3))
y = np.array([0, 1, 2, 3, 0, 1, 2, 3])
W0 = rng.standard_normal((3, 4))

for backend in ad.BACKENDS:
    x = ad.Tensor(X, backend=backend)
    W = ad.Tensor(W0, requires_grad=True, backend=backend)
    loss = -ad.log_softmax(x @ W, axis=-1)[np.arange(8), y].mean()
    loss.backward()
    print(f"{backend:>6}: loss {loss.item():.6f}  |dW| {np.linalg.norm(W.grad.numpy()):.6f}")

a, b = ad.Scalar(2.0, label="a"), ad.Scalar(-3.0, label="b")
c = (a * b + a.tanh()) ** 2
c.backward()
print(f"Scalar: c = {c.data:.4f}, dc/da = {a.grad:.4f}, dc/db = {b.grad:.4f}")
print("gradcheck:", ad.gradcheck(lambda W: -ad.log_softmax(ad.Tensor(X) @ W, axis=-1)[np.arange(8), y].mean(), (W.to("numpy"),)))
