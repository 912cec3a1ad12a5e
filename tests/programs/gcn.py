"""Kipf and Welling's graph convolutional network as the widely copied pygcn repository writes it (utils.py,
layers.py, models.py, train.py), rendered from its structure: one-hot labels, row-normalised features and
adjacency (A + I), the adjacency as a sparse COO tensor built from (row, col) indices and values with
torch.sparse.FloatTensor, a GraphConvolution layer with torch.mm and torch.spmm and its own reset_parameters
(weight.data.uniform_), F.dropout(training=self.training), Adam with weight decay, train/val/test index ranges
and accuracy via output.max(1)[1].type_as(labels). The Cora files are replaced by a small random graph made
with NumPy, and SciPy's sparse matrices by the same arithmetic in NumPy (SciPy is not one of ember's
dependencies); torch.sparse.mm is checked against torch.spmm at the end.

`main(torch)` takes the library as a parameter: the same source runs on ember and on PyTorch."""
import argparse
import math

import numpy as np


def encode_onehot(labels):
    classes = sorted(set(labels))
    classes_dict = {c: np.identity(len(classes))[i, :] for i, c in enumerate(classes)}
    labels_onehot = np.array(list(map(classes_dict.get, labels)), dtype=np.int32)
    return labels_onehot


def normalize(mx):
    """Row-normalize a matrix (dense here; pygcn does it on a scipy sparse matrix)."""
    rowsum = np.array(mx.sum(1))
    with np.errstate(divide="ignore"):
        r_inv = np.power(rowsum, -1).flatten()
    r_inv[np.isinf(r_inv)] = 0.
    r_mat_inv = np.diag(r_inv)
    mx = r_mat_inv.dot(mx)
    return mx


def make_graph(n_nodes=60, n_features=24, n_classes=3, n_edges=120, seed=42):
    """A random citation-like graph: (idx_features_labels, edges), Cora's two files."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, n_classes, n_nodes)
    features = (rng.rand(n_nodes, n_features) < 0.1 + 0.2 * (labels[:, None] == np.arange(n_features) % n_classes))
    names = np.array(["class_%d" % c for c in labels])
    edges = rng.randint(0, n_nodes, (n_edges, 2))
    return features.astype(np.float32), names, edges


def main(torch, argv=()):
    nn = torch.nn
    F = torch.nn.functional
    optim = torch.optim
    Module = torch.nn.Module
    Parameter = torch.nn.parameter.Parameter

    def sparse_mx_to_torch_sparse_tensor(row, col, data, shape):
        """Convert a sparse matrix (here its COO triplets) to a torch sparse tensor."""
        indices = torch.from_numpy(np.vstack((row, col)).astype(np.int64))
        values = torch.from_numpy(data.astype(np.float32))
        shape = torch.Size(shape)
        return torch.sparse.FloatTensor(indices, values, shape)

    def load_data():
        features, names, edges = make_graph()
        labels = encode_onehot(names)
        n = labels.shape[0]
        adj = np.zeros((n, n), dtype=np.float32)
        adj[edges[:, 0], edges[:, 1]] = 1
        # build symmetric adjacency matrix
        adj = adj + adj.T * (adj.T > adj) - adj * (adj.T > adj)
        features = normalize(features)
        adj = normalize(adj + np.eye(adj.shape[0]))

        idx_train = range(20)
        idx_val = range(20, 40)
        idx_test = range(40, 60)

        features = torch.FloatTensor(np.array(features))
        labels = torch.LongTensor(np.where(labels)[1])
        row, col = np.nonzero(adj)
        adj = sparse_mx_to_torch_sparse_tensor(row, col, adj[row, col], adj.shape)

        idx_train = torch.LongTensor(idx_train)
        idx_val = torch.LongTensor(idx_val)
        idx_test = torch.LongTensor(idx_test)
        return adj, features, labels, idx_train, idx_val, idx_test

    def accuracy(output, labels):
        preds = output.max(1)[1].type_as(labels)
        correct = preds.eq(labels).double()
        correct = correct.sum()
        return correct / len(labels)

    class GraphConvolution(Module):
        """Simple GCN layer, similar to https://arxiv.org/abs/1609.02907"""

        def __init__(self, in_features, out_features, bias=True):
            super(GraphConvolution, self).__init__()
            self.in_features = in_features
            self.out_features = out_features
            self.weight = Parameter(torch.FloatTensor(in_features, out_features))
            if bias:
                self.bias = Parameter(torch.FloatTensor(out_features))
            else:
                self.register_parameter("bias", None)
            self.reset_parameters()

        def reset_parameters(self):
            stdv = 1. / math.sqrt(self.weight.size(1))
            self.weight.data.uniform_(-stdv, stdv)
            if self.bias is not None:
                self.bias.data.uniform_(-stdv, stdv)

        def forward(self, input, adj):
            support = torch.mm(input, self.weight)
            output = torch.spmm(adj, support)
            if self.bias is not None:
                return output + self.bias
            else:
                return output

        def __repr__(self):
            return self.__class__.__name__ + " (" + str(self.in_features) + " -> " + str(self.out_features) + ")"

    class GCN(nn.Module):
        def __init__(self, nfeat, nhid, nclass, dropout):
            super(GCN, self).__init__()

            self.gc1 = GraphConvolution(nfeat, nhid)
            self.gc2 = GraphConvolution(nhid, nclass)
            self.dropout = dropout

        def forward(self, x, adj):
            x = F.relu(self.gc1(x, adj))
            x = F.dropout(x, self.dropout, training=self.training)
            x = self.gc2(x, adj)
            return F.log_softmax(x, dim=1)

    parser = argparse.ArgumentParser()
    parser.add_argument("--no-cuda", action="store_true", default=True)
    parser.add_argument("--fastmode", action="store_true", default=False)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=20)       # 200 in the original
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--weight_decay", type=float, default=5e-4)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--dropout", type=float, default=0.5)
    args = parser.parse_args(list(argv))
    args.cuda = not args.no_cuda and torch.cuda.is_available()

    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    # Load data
    adj, features, labels, idx_train, idx_val, idx_test = load_data()

    # Model and optimizer
    model = GCN(nfeat=features.shape[1],
                nhid=args.hidden,
                nclass=labels.max().item() + 1,
                dropout=args.dropout)
    optimizer = optim.Adam(model.parameters(),
                           lr=args.lr, weight_decay=args.weight_decay)

    log = {"loss_train": [], "acc_train": [], "loss_val": [], "acc_val": [], "repr": repr(model.gc1),
           "adj_nnz": adj._nnz(), "adj_is_sparse": adj.is_sparse}

    def train(epoch):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        acc_train = accuracy(output[idx_train], labels[idx_train])
        loss_train.backward()
        optimizer.step()

        if not args.fastmode:
            # Evaluate validation set performance separately,
            # deactivates dropout during validation run.
            model.eval()
            output = model(features, adj)

        loss_val = F.nll_loss(output[idx_val], labels[idx_val])
        acc_val = accuracy(output[idx_val], labels[idx_val])
        log["loss_train"].append(loss_train.item())
        log["acc_train"].append(acc_train.item())
        log["loss_val"].append(loss_val.item())
        log["acc_val"].append(acc_val.item())

    def test():
        model.eval()
        output = model(features, adj)
        loss_test = F.nll_loss(output[idx_test], labels[idx_test])
        acc_test = accuracy(output[idx_test], labels[idx_test])
        log["loss_test"] = loss_test.item()
        log["acc_test"] = acc_test.item()
        log["acc_dtype"] = str(acc_test.dtype).split(".")[-1]

    # Train model
    for epoch in range(args.epochs):
        train(epoch)

    # Testing
    test()

    # torch.sparse.mm, the spelling the PyTorch documentation uses, and its gradient to the dense operand
    dense = torch.randn(features.shape[0], 3, requires_grad=True)
    product = torch.sparse.mm(adj, dense)
    product.pow(2).sum().backward()
    log["sparse_mm_matches_spmm"] = bool(torch.allclose(product, torch.spmm(adj, dense)))
    log["sparse_mm_matches_dense"] = bool(torch.allclose(product, adj.to_dense() @ dense))
    log["dense_grad_sum"] = dense.grad.sum().item()
    return log


if __name__ == "__main__":
    import ember
    print(main(ember))
