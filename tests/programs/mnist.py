"""pytorch/examples mnist/main.py, rendered from its structure: the same Net, train/test loops, Adadelta with
StepLR and the state_dict checkpoint. MNIST itself is replaced by generated 28x28 uint8 images (the download
is not possible here); ToTensor + Normalize((0.1307,), (0.3081,)) become the same arithmetic on a tensor.

`main(torch)` takes the library as a parameter, so the same source runs under `import ember as torch`
and under PyTorch; it returns what a comparison needs (losses, accuracy, checkpoint bytes)."""
import argparse
import os
import tempfile


def main(torch, argv=()):
    nn = torch.nn
    F = torch.nn.functional
    optim = torch.optim
    StepLR = torch.optim.lr_scheduler.StepLR
    DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    log = {"train_loss": [], "test_loss": [], "correct": [], "lr": []}

    def train(model, device, train_loader, optimizer, epoch, log_interval=1):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            if batch_idx % log_interval == 0:
                log["train_loss"].append(loss.item())

    def test(model, device, test_loader):
        model.eval()
        test_loss = 0
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                data, target = data.to(device), target.to(device)
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction="sum").item()  # sum up batch loss
                pred = output.argmax(dim=1, keepdim=True)  # index of the max log-probability
                correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(test_loader.dataset)
        log["test_loss"].append(test_loss)
        log["correct"].append(correct)

    parser = argparse.ArgumentParser(description="PyTorch MNIST Example")
    parser.add_argument("--batch-size", type=int, default=8)        # 64 in the original
    parser.add_argument("--test-batch-size", type=int, default=8)   # 1000
    parser.add_argument("--epochs", type=int, default=2)            # 14
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--no-cuda", action="store_true", default=True)   # the CPU run is the one compared
    parser.add_argument("--no-mps", action="store_true", default=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=1)
    parser.add_argument("--save-model", action="store_true", default=True)
    parser.add_argument("--n-train", type=int, default=16)          # 60000 MNIST images
    parser.add_argument("--n-test", type=int, default=8)            # 10000
    args = parser.parse_args(list(argv))
    use_cuda = not args.no_cuda and torch.cuda.is_available()
    use_mps = not args.no_mps and torch.backends.mps.is_available()

    torch.manual_seed(args.seed)

    if use_cuda:
        device = torch.device("cuda")
    elif use_mps:
        device = torch.device("mps")
    else:
        device = torch.device("cpu")

    train_kwargs = {"batch_size": args.batch_size}
    test_kwargs = {"batch_size": args.test_batch_size}
    if use_cuda:
        cuda_kwargs = {"num_workers": 1, "pin_memory": True, "shuffle": True}
        train_kwargs.update(cuda_kwargs)
        test_kwargs.update(cuda_kwargs)

    def fake_mnist(n):
        # uint8 pixels and int64 labels, as datasets.MNIST holds them; ToTensor() then Normalize()
        pixels = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8)
        labels = torch.randint(0, 10, (n,))
        images = pixels.float().div(255)
        images = (images - 0.1307) / 0.3081
        return TensorDataset(images, labels)

    dataset1 = fake_mnist(args.n_train)
    dataset2 = fake_mnist(args.n_test)
    train_loader = DataLoader(dataset1, **train_kwargs)
    test_loader = DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(model, device, train_loader, optimizer, epoch, args.log_interval)
        test(model, device, test_loader)
        scheduler.step()
        log["lr"].append(scheduler.get_last_lr()[0])

    if not args.save_model:
        return log
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "mnist_cnn.pt")
        torch.save(model.state_dict(), path)
        with open(path, "rb") as f:
            log["checkpoint"] = f.read()
        reloaded = Net()
        reloaded.load_state_dict(torch.load(path))
    log["state_keys"] = list(reloaded.state_dict())
    log["fc1_weight_sum"] = reloaded.fc1.weight.sum().item()
    return log


if __name__ == "__main__":
    import ember
    print({k: v for k, v in main(ember).items() if k != "checkpoint"})
