"""Family (e): small nn models, built after `manual_seed`: the same seed must give the same weights (ember's
RNG streams are PyTorch's), the same outputs, grads and running statistics, in train and in eval mode,
across a few forward/backward/SGD steps (dropout masks included)."""
from hypothesis import strategies as st

from .gen import Builder
from .program import Family, Src, Stmt

NN = "torch.nn."
# name -> (constructor source, {option: choices (passed only sometimes)}, input shapes)
MODELS = {
    "Linear": (f"{NN}Linear(3, 4{{kw}})", dict(bias=[False]), [(2, 3), (3,), (2, 1, 3), (0, 3)]),
    "Conv2d": (f"{NN}Conv2d(2, 4, {{0}}{{kw}})", dict(stride=[2], padding=[1, "same"],
                                             dilation=[2], groups=[2], bias=[False],
                                             padding_mode=["reflect", "circular"]),
               [(1, 2, 5, 5), (2, 2, 4, 6), (2, 5, 5)]),
    "Conv1d": (f"{NN}Conv1d(2, 2, 3{{kw}})", dict(stride=[2], padding=[1], dilation=[2], groups=[2]),
               [(2, 2, 7), (2, 6)]),
    "ConvTranspose2d": (f"{NN}ConvTranspose2d(2, 3, 3{{kw}})", dict(stride=[2], padding=[1], output_padding=[1]),
                        [(1, 2, 4, 4)]),
    "LayerNorm": (f"{NN}LayerNorm({{0}}{{kw}})", dict(elementwise_affine=[False], bias=[False], eps=[1e-3]),
                  [(4, 2, 3)]),
    "BatchNorm1d": (f"{NN}BatchNorm1d(3{{kw}})", dict(affine=[False], track_running_stats=[False],
                                                    momentum=[None, 0.5]), [(4, 3), (2, 3, 5)]),
    "BatchNorm2d": (f"{NN}BatchNorm2d(2{{kw}})", dict(affine=[False], momentum=[None, 0.5]), [(2, 2, 3, 3)]),
    "GroupNorm": (f"{NN}GroupNorm(2, 4{{kw}})", dict(affine=[False]), [(2, 4, 3)]),
    "Dropout": (f"{NN}Dropout({{kw}})", dict(p=[0.2, 0.9]), [(4, 5), (3, 2, 2)]),
    "Dropout2d": (f"{NN}Dropout2d({{kw}})", dict(p=[0.2]), [(2, 3, 4, 4)]),
    "Embedding": (f"{NN}Embedding(5, 3{{kw}})", dict(padding_idx=[0], max_norm=[1.0]), ["indices"]),
    "GRU": (f"{NN}GRU(3, 4{{kw}})", dict(num_layers=[2], bias=[False], batch_first=[True], bidirectional=[True],
                                       dropout=[0.5]), [(5, 2, 3), (4, 3)]),
    "LSTM": (f"{NN}LSTM(3, 4{{kw}})", dict(num_layers=[2], batch_first=[True], bidirectional=[True],
                                         proj_size=[2], dropout=[0.5]), [(5, 2, 3), (4, 3)]),
    "RNN": (f"{NN}RNN(3, 4{{kw}})", dict(nonlinearity=["relu"], num_layers=[2], bidirectional=[True]),
            [(5, 2, 3)]),
    "MLP": (f"{NN}Sequential({NN}Linear(3, 8), {NN}ReLU(), {NN}Dropout({{kw}}), {NN}Linear(8, 2))",
            dict(p=[0.5]), [(4, 3)]),
    "CNN": (f"{NN}Sequential({NN}Conv2d(1, 2, 3, padding=1), {NN}BatchNorm2d(2), {NN}ReLU(), "
            f"{NN}MaxPool2d(2), {NN}Flatten(), {NN}Linear(8, 3){{kw}})", {}, [(2, 1, 4, 4)]),
    "MultiheadAttention": (f"{NN}MultiheadAttention(4, 2{{kw}})", dict(dropout=[0.5], bias=[False]),
                           [(3, 2, 4)]),
    "TransformerEncoderLayer": (f"{NN}TransformerEncoderLayer(4, 2, dim_feedforward=8, batch_first=True{{kw}})",
                                dict(dropout=[0.0, 0.5], norm_first=[True], activation=["gelu"]), [(2, 3, 4)]),
}
OPS = {name: template for name, (template, _, _) in MODELS.items()}
OPS.update({
    "seed": Stmt("torch.manual_seed({0})"),
    "randn": "torch.randn({0}{kw})",
    "indices": "torch.tensor([[0, 2, 4], [4, 3, 0]])",
    "double": "{0}.double()",
    "train": Stmt("{0}.train({1})"),
    "forward": "{0}({1})",
    "attention": "{0}({1}, {1}, {1})",
    "output": "{0}[0]",
    "loss": "({0} * torch.linspace(-1, 1, {0}.numel(), dtype={0}.dtype).view_as({0})).sum()",
    "backward": Stmt("{0}.backward()"),
    "sgd": "torch.optim.SGD({0}.parameters(), lr=0.1, momentum=0.9)",
    "zero_grad": Stmt("{0}.zero_grad()"),
    "step": Stmt("{0}.step()"),
})


@st.composite
def programs(draw):
    b = Builder(draw, FAMILY, run=False)
    name = b.choice(list(MODELS))
    template, options, shapes = MODELS[name]
    if b.chance(30):
        b.add("seed", b.choice([1, 42]))
    kw = {k: b.choice(v) for k, v in options.items() if b.chance(35)}
    first = {"LayerNorm": [3, (2, 3)], "Conv2d": [3, 1, (2, 3)]}     # a required first argument
    model = b.add(name, *((b.choice(first[name]),) if name in first else ()), **kw)
    f64 = b.chance(20)
    if f64:
        b.add("double", model)
    shape = b.choice(shapes)
    x = b.add("indices") if shape == "indices" else b.add(
        "randn", shape, **({"dtype": Src("torch.float64")} if f64 else {}) | ({"requires_grad": True} if b.chance(30)
                                                                         else {}))
    opt = b.add("sgd", model) if b.chance(40) else None
    for _ in range(b.integer(1, 3)):
        if b.chance(30):
            b.add("train", model, b.chance(70))
        y = b.add("attention" if name == "MultiheadAttention" else "forward", model, x)
        if name in ("GRU", "LSTM", "RNN", "MultiheadAttention"):
            y = b.add("output", y)
        b.add("backward", b.add("loss", y))
        if opt is not None:
            b.add("step", opt)
            b.add("zero_grad", opt)
    return b.program()


FAMILY = Family("nn", OPS, programs, observe_all=True, float32_loose=3.0)
