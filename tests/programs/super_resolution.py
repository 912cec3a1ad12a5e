"""pytorch/examples super_resolution (model.py and main.py), rendered from their structure: the ESPCN-style Net
(four Conv2d layers, ReLU, PixelShuffle(upscale_factor)) with init.orthogonal_ scaled by
init.calculate_gain('relu'), MSELoss, Adam, the train/test loops with PSNR = 10 * log10(1 / mse), and the
whole-model checkpoint torch.save(model, path) read back with torch.load(path, weights_only=False) (with Net
defined inside main(), pickle refuses it as PyTorch does, and the state_dict is saved instead). BSDS300's
luminance crops are replaced by generated images; the low-resolution input is their 3x3 average pool.

`main(torch)` takes the library as a parameter: the same source runs on ember and on PyTorch."""
import argparse
import io
import pickle
from math import log10


def main(torch, argv=()):
    nn = torch.nn
    init = torch.nn.init
    optim = torch.optim
    F = torch.nn.functional
    DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset

    class Net(nn.Module):
        def __init__(self, upscale_factor):
            super(Net, self).__init__()

            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
            self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
            self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
            self.conv4 = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
            self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

            self._initialize_weights()

        def forward(self, x):
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
            x = self.relu(self.conv3(x))
            x = self.pixel_shuffle(self.conv4(x))
            return x

        def _initialize_weights(self):
            init.orthogonal_(self.conv1.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv2.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv3.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv4.weight)

    parser = argparse.ArgumentParser(description="PyTorch Super Res Example")
    parser.add_argument("--upscale_factor", type=int, default=3)
    parser.add_argument("--batchSize", type=int, default=4)         # 64 in the original
    parser.add_argument("--testBatchSize", type=int, default=4)     # 10
    parser.add_argument("--nEpochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--crop", type=int, default=12)             # 256 // upscale_factor * upscale_factor
    opt = parser.parse_args(list(argv))

    torch.manual_seed(opt.seed)
    device = torch.device("cpu")

    def dataset(n):
        target = torch.rand(n, 1, opt.crop, opt.crop)                  # the Y channel of a crop, ToTensor()
        return TensorDataset(F.avg_pool2d(target, opt.upscale_factor), target)

    training_data_loader = DataLoader(dataset=dataset(8), batch_size=opt.batchSize, shuffle=True)
    testing_data_loader = DataLoader(dataset=dataset(4), batch_size=opt.testBatchSize, shuffle=False)

    model = Net(upscale_factor=opt.upscale_factor).to(device)
    criterion = nn.MSELoss()

    optimizer = optim.Adam(model.parameters(), lr=opt.lr)

    log = {"epoch_loss": [], "avg_psnr": [], "orthogonal_gram": []}
    w = model.conv4.weight.detach().view(model.conv4.weight.size(0), -1)
    log["orthogonal_gram"] = (w @ w.t()).diagonal().tolist()           # orthonormal rows: ones

    def train(epoch):
        epoch_loss = 0
        for iteration, batch in enumerate(training_data_loader, 1):
            input, target = batch[0].to(device), batch[1].to(device)

            optimizer.zero_grad()
            loss = criterion(model(input), target)
            epoch_loss += loss.item()
            loss.backward()
            optimizer.step()
        log["epoch_loss"].append(epoch_loss / len(training_data_loader))

    def test():
        avg_psnr = 0
        with torch.no_grad():
            for batch in testing_data_loader:
                input, target = batch[0].to(device), batch[1].to(device)

                prediction = model(input)
                mse = criterion(prediction, target)
                psnr = 10 * log10(1 / mse.item())
                avg_psnr += psnr
        log["avg_psnr"].append(avg_psnr / len(testing_data_loader))

    def checkpoint(epoch):
        model_out = io.BytesIO()                                       # "model_epoch_{}.pth".format(epoch)
        try:
            torch.save(model, model_out)
        except (AttributeError, pickle.PicklingError) as e:       # (the latter from Python 3.14)
            # Net is defined inside main() here (the original defines it at module level), so pickle cannot
            # find the class by name: the same error as PyTorch's; the state_dict is saved instead
            log["whole_model_error"] = str(e)
            model_out = io.BytesIO()
            torch.save(model.state_dict(), model_out)
        return model_out

    for epoch in range(1, opt.nEpochs + 1):
        train(epoch)
        test()
        saved = checkpoint(epoch)

    # super_resolve.py: the whole model back from its checkpoint, run on one image
    saved.seek(0)
    if "whole_model_error" in log:
        model = Net(upscale_factor=opt.upscale_factor)
        model.load_state_dict(torch.load(saved))
    else:
        model = torch.load(saved, weights_only=False)
    input = torch.rand(1, 1, opt.crop // opt.upscale_factor, opt.crop // opt.upscale_factor)
    out = model(input)
    log["loaded_type"] = type(model).__name__
    log["out_shape"] = tuple(out.shape)
    log["out_requires_grad"] = out.requires_grad
    return log


if __name__ == "__main__":
    import ember
    print(main(ember))
