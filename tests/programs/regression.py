"""pytorch/examples regression/main.py, rendered from its structure: a random degree-4 polynomial target, the
feature matrix [x, x^2, x^3, x^4] built with torch.cat, f(x) = x.mm(W_target) + b_target.item(), a single
Linear layer fitted with smooth_l1_loss and the update param.data.add_(-0.1 * param.grad) until the loss is
below 1e-3, and poly_desc formatting 0-d tensors with '{:+.2f}'.

`main(torch)` takes the library as a parameter: the same source runs on ember and on PyTorch."""
from itertools import count


def main(torch, max_batches=200):
    F = torch.nn.functional

    torch.manual_seed(0)
    POLY_DEGREE = 4
    W_target = torch.randn(POLY_DEGREE, 1) * 5
    b_target = torch.randn(1) * 5

    def make_features(x):
        """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
        x = x.unsqueeze(1)
        return torch.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)

    def f(x):
        """Approximated function."""
        return x.mm(W_target) + b_target.item()

    def poly_desc(W, b):
        """Creates a string description of a polynomial."""
        result = "y = "
        for i, w in enumerate(W):
            result += "{:+.2f} x^{} ".format(w, i + 1)
        result += "{:+.2f}".format(b[0])
        return result

    def get_batch(batch_size=32):
        """Builds a batch i.e. (x, f(x)) pair."""
        random = torch.randn(batch_size)
        x = make_features(random)
        y = f(x)
        return x, y

    # Define model
    fc = torch.nn.Linear(W_target.size(0), 1)

    losses = []
    for batch_idx in count(1):
        # Get data
        batch_x, batch_y = get_batch()

        # Reset gradients
        fc.zero_grad()

        # Forward pass
        output = F.smooth_l1_loss(fc(batch_x), batch_y)
        loss = output.item()
        losses.append(loss)

        # Backward pass
        output.backward()

        # Apply gradients
        for param in fc.parameters():
            param.data.add_(-0.1 * param.grad)

        # Stop criterion
        if loss < 1e-3 or batch_idx >= max_batches:
            break

    # print('Loss: {:.6f} after {} batches'.format(loss, batch_idx)): the loss itself is compared, to tolerance
    return {"loss": loss,
            "learned": "==> Learned function:\t" + poly_desc(fc.weight.view(-1), fc.bias),
            "actual": "==> Actual function:\t" + poly_desc(W_target.view(-1), b_target),
            "losses": losses[::20], "batches": batch_idx}


if __name__ == "__main__":
    import ember
    print(main(ember))
