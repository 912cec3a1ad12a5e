"""The digits classifier (scikit-learn's bundled 8x8 images) trained with DistributedDataParallel on several
processes, written as a PyTorch DDP script is:

    python -m ember.distributed.run --nproc-per-node 2 examples/ddp_digits.py --epochs 5

Each rank reads its share of every epoch through a DistributedSampler; DDP averages the gradients, so every rank
holds the same model after each step. Rank 0 evaluates, prints, and saves the inner model's state_dict (DDP's own
would prefix every key with "module."). Started without the launcher it trains on one process.
"""
import argparse
import os
import time

import numpy as np

import ember as torch
import ember.distributed as dist
from ember import nn
from ember.nn.parallel import DistributedDataParallel as DDP
from ember.utils.data import DataLoader, DistributedSampler, TensorDataset


def load_digits_dataset():
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = torch.from_numpy((digits.images / 16.0).astype(np.float32)).reshape(-1, 64)
    labels = torch.from_numpy(digits.target.astype(np.int64))
    return TensorDataset(images, labels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--out", default="out")
    args = parser.parse_args(argv)

    distributed = "WORLD_SIZE" in os.environ or "OMPI_COMM_WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1

    data = load_digits_dataset()
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(data), generator=generator).tolist()
    train = torch.utils.data.Subset(data, order[:1500])
    test_x, test_y = data[order[1500:]]

    torch.manual_seed(rank)            # a different start on each rank: DDP broadcasts rank 0's parameters
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    net = DDP(model) if distributed else model
    sampler = DistributedSampler(train, num_replicas=world, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    start = time.perf_counter()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)          # a new shuffle each epoch, the same on every rank
        net.train()
        total = 0.0
        for images, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(net(images), labels)
            loss.backward()
            optimizer.step()
            total += loss.item()
        mean_loss = torch.tensor([total / len(loader)])
        if distributed:
            dist.all_reduce(mean_loss, op=dist.ReduceOp.AVG)
        if rank == 0:
            with torch.no_grad():
                accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()
            print(f"epoch {epoch + 1}: loss {mean_loss.item():.4f} (mean over {world} ranks), "
                  f"test accuracy {accuracy:.3f}", flush=True)
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "ddp_digits.pt")
        torch.save(model.state_dict(), path)
        print(f"{world} rank(s), {time.perf_counter() - start:.2f} s; saved {path}")
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return accuracy if rank == 0 else None


if __name__ == "__main__":
    main()
