"""Handwritten digits (scikit-learn's bundled 8x8 images, no download): an MLP and a small CNN.

Dataset/DataLoader, a train/validation split, Adam with a learning-rate schedule, accuracy per epoch,
checkpoints with --resume, and a confusion matrix plus learning curves saved as PNG.

    python examples/digits.py --model cnn --epochs 8
"""
import argparse
import os
import time

import numpy as np

import ember as torch
from ember import nn
from ember.utils.data import DataLoader, TensorDataset, random_split


def load_digits_dataset():
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = torch.from_numpy((digits.images / 16.0).astype(np.float32)).unsqueeze(1)   # (N, 1, 8, 8)
    labels = torch.from_numpy(digits.target.astype(np.int64))
    return TensorDataset(images, labels)


def make_model(kind):
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                             nn.Linear(256, 10))
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))


def progress(iterable, desc):
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, leave=False, mininterval=0.5, disable=None)  # None: only on a terminal


def evaluate(model, loader, device):
    model.eval()
    correct = total = 0
    confusion = np.zeros((10, 10), dtype=np.int64)
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            pred = model(images).argmax(1)
            correct += int((pred == labels).sum())
            total += labels.shape[0]
            np.add.at(confusion, (labels.cpu().numpy(), pred.cpu().numpy()), 1)
    return correct / total, confusion


def save_plots(history, confusion, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: pip install ember[examples] for the PNG plots")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [h["epoch"] for h in history]
    ax1.plot(epochs, [h["loss"] for h in history], label="train loss")
    ax1.set_xlabel("epoch")
    ax1.legend()
    ax2.plot(epochs, [h["val_acc"] for h in history], label="validation accuracy", color="green")
    ax2.set_xlabel("epoch")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "digits_curves.png"), dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(confusion, cmap="Blues")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("digits: confusion matrix (validation)")
    fig.savefig(os.path.join(out_dir, "digits_confusion.png"), dpi=90)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--limit", type=int, default=None, help="use only this many samples (for tests)")
    parser.add_argument("--out", default="out")
    parser.add_argument("--resume", action="store_true", help="continue from out/digits_<model>.pt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where to train: cuda (the default when a GPU is available) or cpu; here %(default)s")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)

    dataset = load_digits_dataset()
    if args.limit:
        dataset = torch.utils.data.Subset(dataset, range(min(args.limit, len(dataset))))
    n_val = max(1, len(dataset) // 5)
    train_set, val_set = random_split(dataset, [len(dataset) - n_val, n_val],
                                      generator=torch.Generator().manual_seed(args.seed))
    pin = device.type == "cuda"
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, pin_memory=pin)
    val_loader = DataLoader(val_set, batch_size=256, pin_memory=pin)

    model = make_model(args.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(args.epochs, 1))
    loss_fn = nn.CrossEntropyLoss()
    checkpoint = os.path.join(args.out, f"digits_{args.model}.pt")
    start_epoch, history = 0, []
    if args.resume and os.path.exists(checkpoint):
        state = torch.load(checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, history = state["epoch"], state["history"]
        print(f"resumed from {checkpoint} at epoch {start_epoch}")

    acc, confusion = 0.0, np.zeros((10, 10), dtype=np.int64)
    started = time.perf_counter()
    for epoch in range(start_epoch, args.epochs):
        model.train()
        total_loss, batches = 0.0, 0
        for images, labels in progress(train_loader, f"epoch {epoch + 1}"):
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            loss = loss_fn(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
            batches += 1
        scheduler.step()
        acc, confusion = evaluate(model, val_loader, device)
        history.append({"epoch": epoch + 1, "loss": total_loss / max(batches, 1), "val_acc": acc})
        print(f"epoch {epoch + 1:2d}  loss {total_loss / max(batches, 1):.4f}  validation accuracy {acc:.2%}  "
              f"lr {scheduler.get_last_lr()[0]:.2e}")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "history": history}, checkpoint)
    print(f"{args.model}: validation accuracy {acc:.2%} after {args.epochs} epochs "
          f"in {time.perf_counter() - started:.1f} s")
    save_plots(history, confusion, args.out)
    return acc


if __name__ == "__main__":
    main()
