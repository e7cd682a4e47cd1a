"""Gradients through a linear layer (example 2 of the autograd basics tutorial), the srcgrad
way: loss = (model(input) - 2)^2 with model = nn.Linear(1, 1) and input [[1.0]], and its
gradients with respect to the input, the layer's weight and its bias.

PyTorch:
    model = nn.Linear(1, 1)
    input_tensor = torch.tensor([[1.0]], requires_grad=True)
    loss = (model(input_tensor) - 2.0)**2
    loss.backward()
    input_tensor.grad, model.weight.grad, model.bias.grad
srcgrad:
    dmodel, dinput = srcgrad.grad(loss, wrt=("model", "input_tensor"))(model, input_tensor)
    dinput, dmodel.weight, dmodel.bias

The gradient with respect to the model is a Linear of the same shape holding the weight
and bias gradients. nn.Linear(1, 1) starts from a random weight and bias (uniform in
[-1, 1] for one input), so the tutorial's gradients depend on PyTorch's draw;
srcgrad.nn.Linear(1, 1, rng=0) draws its own, seeded. For any weight w and bias b the
gradients are, with r = 2 (w x + b - 2): input r w, weight r x, bias r; the script prints
them beside srcgrad's.

The loss is 1x1, as in the tutorial; like PyTorch's backward(), srcgrad.grad takes a
one-element output as a scalar.

Run it:  python examples/linear_layer.py
"""

import numpy as np

import srcgrad
from srcgrad import nn


def loss(model, input_tensor):
    output = model(input_tensor)
    return (output - 2.0) ** 2


def main() -> None:
    model = nn.Linear(1, 1, rng=0)
    input_tensor = np.array([[1.0]])
    dmodel, dinput = srcgrad.grad(loss, wrt=("model", "input_tensor"))(model, input_tensor)
    print(f"Model weight: {model.weight}, bias: {model.bias}")
    print(f"Gradient of input_tensor: {dinput}")
    print(f"Gradient of model weight: {dmodel.weight}")
    print(f"Gradient of model bias: {dmodel.bias}")

    r = 2.0 * (model.weight[0, 0] * input_tensor[0, 0] + model.bias[0] - 2.0)
    print(f"By hand: input {r * model.weight[0, 0]}, weight {r * input_tensor[0, 0]}, "
          f"bias {r}")


if __name__ == "__main__":
    main()
