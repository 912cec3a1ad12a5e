"""pytorch/examples mnist_rnn/main.py, rendered from its structure: each 28x28 image read as a sequence of 28
rows by a batch_first LSTM, the last step's output through BatchNorm1d, Dropout2d on a 2-D input (deprecated:
both libraries warn and drop whole features), two Linear layers and log_softmax; nll_loss, Adadelta with
StepLR, the train/test loops and the state_dict checkpoint. MNIST is replaced by generated images.

`main(torch)` takes the library as a parameter: the same source runs on ember and on PyTorch."""
import argparse
import io
import warnings


def main(torch, argv=()):
    nn = torch.nn
    F = torch.nn.functional
    optim = torch.optim
    StepLR = torch.optim.lr_scheduler.StepLR

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.rnn = nn.LSTM(input_size=28, hidden_size=64, batch_first=True)
            self.batchnorm = nn.BatchNorm1d(64)
            self.dropout1 = nn.Dropout2d(0.25)
            self.dropout2 = nn.Dropout2d(0.5)
            self.fc1 = nn.Linear(64, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, input):
            # Shape of input is (batch_size,1, 28, 28)
            # converting shape of input to (batch_size, 28, 28)
            # as required by RNN when batch_first is set True
            input = input.reshape(-1, 28, 28)
            output, hidden = self.rnn(input)

            # RNN output shape is (seq_len, batch, input_size)
            # Get last output of RNN
            output = output[:, -1, :]
            output = self.batchnorm(output)
            output = self.dropout1(output)
            output = self.fc1(output)
            output = F.relu(output)
            output = self.dropout2(output)
            output = self.fc2(output)
            output = F.log_softmax(output, dim=1)
            return output

    parser = argparse.ArgumentParser(description="PyTorch MNIST Example using RNN")
    parser.add_argument("--batch-size", type=int, default=8)        # 64 in the original
    parser.add_argument("--test-batch-size", type=int, default=8)   # 1000
    parser.add_argument("--epochs", type=int, default=2)            # 14
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=1)
    parser.add_argument("--save-model", action="store_true", default=True)
    args = parser.parse_args(list(argv))

    device = torch.device("cpu")
    torch.manual_seed(args.seed)

    def fake_mnist(n):
        images = (torch.rand(n, 1, 28, 28) - 0.1307) / 0.3081      # ToTensor() then Normalize
        return torch.utils.data.TensorDataset(images, torch.randint(0, 10, (n,)))

    train_loader = torch.utils.data.DataLoader(fake_mnist(24), batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(fake_mnist(8), batch_size=args.test_batch_size, shuffle=True)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    log = {"train_loss": [], "test_loss": [], "correct": [], "warnings": []}

    def train(args, model, device, train_loader, optimizer, epoch):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            if batch_idx % args.log_interval == 0:
                log["train_loss"].append(loss.item())

    def test(args, model, device, test_loader):
        model.eval()
        test_loss = 0
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                data, target = data.to(device), target.to(device)
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction="sum").item()  # sum up batch loss
                pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
                correct += pred.eq(target.view_as(pred)).sum().item()

        test_loss /= len(test_loader.dataset)
        log["test_loss"].append(test_loss)
        log["correct"].append(correct)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in range(1, args.epochs + 1):
            train(args, model, device, train_loader, optimizer, epoch)
            test(args, model, device, test_loader)
            scheduler.step()
    log["warnings"] = sorted({str(w.message).split(",")[0] for w in caught if w.category is UserWarning})

    if args.save_model:
        buffer = io.BytesIO()                                          # "mnist_rnn.pt"
        torch.save(model.state_dict(), buffer)
        log["state_keys"] = list(torch.load(io.BytesIO(buffer.getvalue())))
    return log


if __name__ == "__main__":
    import ember
    print(main(ember))
