"""pytorch/examples vae/main.py, rendered from its structure: the fully connected VAE (784-400-20), the
reparameterisation trick with randn_like, BCE + KL loss, Adam, the train/test loops and the sampling step.
MNIST is replaced by generated pixel intensities in [0, 1] (what ToTensor() gives); save_image (torchvision)
is replaced by collecting the tensors it would have written.

`main(torch)` takes the library as a parameter: the same source runs on ember and on PyTorch."""
import argparse


def main(torch, argv=()):
    nn = torch.nn
    F = torch.nn.functional
    optim = torch.optim

    parser = argparse.ArgumentParser(description="VAE MNIST Example")
    parser.add_argument("--batch-size", type=int, default=16)       # 128 in the original
    parser.add_argument("--epochs", type=int, default=2)            # 10
    parser.add_argument("--no-cuda", action="store_true", default=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=48)
    parser.add_argument("--n-test", type=int, default=16)
    args = parser.parse_args(list(argv))
    args.cuda = not args.no_cuda and torch.cuda.is_available()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if args.cuda else "cpu")
    kwargs = {"num_workers": 1, "pin_memory": True} if args.cuda else {}

    def fake_mnist(n):
        images = torch.rand(n, 1, 28, 28)
        labels = torch.randint(0, 10, (n,))
        return torch.utils.data.TensorDataset(images, labels)

    train_loader = torch.utils.data.DataLoader(fake_mnist(args.n_train), batch_size=args.batch_size,
                                               shuffle=True, **kwargs)
    test_loader = torch.utils.data.DataLoader(fake_mnist(args.n_test), batch_size=args.batch_size,
                                              shuffle=False, **kwargs)

    class VAE(nn.Module):
        def __init__(self):
            super(VAE, self).__init__()

            self.fc1 = nn.Linear(784, 400)
            self.fc21 = nn.Linear(400, 20)
            self.fc22 = nn.Linear(400, 20)
            self.fc3 = nn.Linear(20, 400)
            self.fc4 = nn.Linear(400, 784)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar):
            std = torch.exp(0.5 * logvar)
            eps = torch.randn_like(std)
            return mu + eps * std

        def decode(self, z):
            h3 = F.relu(self.fc3(z))
            return torch.sigmoid(self.fc4(h3))

        def forward(self, x):
            mu, logvar = self.encode(x.view(-1, 784))
            z = self.reparameterize(mu, logvar)
            return self.decode(z), mu, logvar

    model = VAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)

    # Reconstruction + KL divergence losses summed over all elements and batch
    def loss_function(recon_x, x, mu, logvar):
        BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
        # see Appendix B from VAE paper: Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
        # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
        KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return BCE + KLD

    log = {"batch_loss": [], "epoch_loss": [], "test_loss": [], "images": []}

    def train(epoch):
        model.train()
        train_loss = 0
        for batch_idx, (data, _) in enumerate(train_loader):
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            if batch_idx % args.log_interval == 0:
                log["batch_loss"].append(loss.item() / len(data))
        log["epoch_loss"].append(train_loss / len(train_loader.dataset))

    def test(epoch):
        model.eval()
        test_loss = 0
        with torch.no_grad():
            for i, (data, _) in enumerate(test_loader):
                data = data.to(device)
                recon_batch, mu, logvar = model(data)
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
                if i == 0:
                    n = min(data.size(0), 8)
                    comparison = torch.cat([data[:n],
                                            recon_batch.view(args.batch_size, 1, 28, 28)[:n]])
                    log["images"].append((tuple(comparison.shape), str(comparison.dtype)))
        test_loss /= len(test_loader.dataset)
        log["test_loss"].append(test_loss)

    for epoch in range(1, args.epochs + 1):
        train(epoch)
        test(epoch)
        with torch.no_grad():
            sample = torch.randn(64, 20).to(device)
            sample = model.decode(sample).cpu()
            log["images"].append((tuple(sample.view(64, 1, 28, 28).shape), str(sample.dtype)))
            log["sample_mean"] = sample.mean().item()
    return log


if __name__ == "__main__":
    import ember
    print(main(ember))
