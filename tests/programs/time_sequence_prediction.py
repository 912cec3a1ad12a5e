"""pytorch/examples time_sequence_prediction (generate_sine_wave.py and train.py), rendered from their structure:
sine waves with random phase shifts written with torch.save as a NumPy array, a two-layer LSTMCell Sequence
model in double precision (seq.double(), torch.zeros(..., dtype=torch.double)), input.split(1, dim=1), MSELoss,
LBFGS(lr=0.8) stepped with a closure, and the future prediction under no_grad. Sizes are smaller (the
original has 100 waves of 1000 points, 51 hidden units, 15 steps of 20 LBFGS iterations and predicts
1000 points ahead).

`main(torch)` takes the library as a parameter: the same source runs on ember and on PyTorch."""
import argparse
import os
import pickle
import tempfile

import numpy as np


def generate_sine_wave(torch, path, T=20, L=40, N=6):
    np.random.seed(2)
    x = np.empty((N, L), "int64")
    x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
    data = np.sin(x / 1.0 / T).astype("float64")
    torch.save(data, open(path, "wb"))


def main(torch, argv=()):
    nn = torch.nn
    optim = torch.optim

    class Sequence(nn.Module):
        def __init__(self, hidden=51):
            super(Sequence, self).__init__()
            self.hidden = hidden
            self.lstm1 = nn.LSTMCell(1, hidden)
            self.lstm2 = nn.LSTMCell(hidden, hidden)
            self.linear = nn.Linear(hidden, 1)

        def forward(self, input, future=0):
            outputs = []
            h_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
            c_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
            h_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
            c_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)

            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for i in range(future):  # if we should predict the future
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            outputs = torch.cat(outputs, dim=1)
            return outputs

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2, help="steps to run")     # 15 in the original
    parser.add_argument("--hidden", type=int, default=24)                        # 51
    parser.add_argument("--max-iter", type=int, default=4)                       # LBFGS's default 20
    opt = parser.parse_args(list(argv))

    log = {"closure_loss": [], "test_loss": []}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "traindata.pt")
        generate_sine_wave(torch, path)
        # a NumPy array is not a weights-only object: the default load refuses it, as PyTorch 2.6+ does
        try:
            torch.load(path)
        except pickle.UnpicklingError as e:
            log["default_load_refused"] = "weights_only=False" in str(e) or "Weights only load failed" in str(e)
        # set random seed to 0
        np.random.seed(0)
        torch.manual_seed(0)
        # load data and make training set
        data = torch.load(path, weights_only=False)
    input = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    test_target = torch.from_numpy(data[:3, 1:])
    # build the model
    seq = Sequence(opt.hidden)
    seq.double()
    criterion = nn.MSELoss()
    # use LBFGS as optimizer since we can load the whole data to train
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8, max_iter=opt.max_iter)
    # begin to train
    for i in range(opt.steps):
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            log["closure_loss"].append(loss.item())
            loss.backward()
            return loss
        optimizer.step(closure)
        # begin to predict, no need to track gradient here
        with torch.no_grad():
            future = 5      # 1000 in the original
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            log["test_loss"].append(loss.item())
            y = pred.detach().numpy()
    log["y_shape"] = y.shape
    log["y_dtype"] = str(y.dtype)
    log["pred_dtype"] = str(pred.dtype).split(".")[-1]
    return log


if __name__ == "__main__":
    import ember
    print(main(ember))
