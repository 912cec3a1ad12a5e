"""Train the digits CNN briefly, export it to ONNX and run it in onnxruntime: no PyTorch anywhere.

The model is examples/digits.py's CNN, trained for a few hundred steps on scikit-learn's bundled 8x8 digits (no
download). ember.onnx.export writes it with a dynamic batch axis; onnxruntime then runs the whole test set at
once (a batch size other than the one traced) and the script prints both predictions side by side.

    python examples/export_onnx.py --steps 300 --out out
"""
import argparse
import importlib.util
import os
import time

import numpy as np

import ember as torch
from ember import nn


def digits_example():
    """examples/digits.py (its dataset and model), loaded from the folder of this file."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits.py")
    spec = importlib.util.spec_from_file_location("digits_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps (batches)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--test-size", type=int, default=360, help="images held out for the comparison")
    parser.add_argument("--show", type=int, default=10, help="test images printed side by side")
    parser.add_argument("--opset", type=int, default=18)
    parser.add_argument("--out", default="out", help="folder for digits_cnn.onnx")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import onnxruntime
    except ImportError:
        raise SystemExit("this example runs the exported model in onnxruntime: pip install 'ember[onnx]'") from None

    digits = digits_example()
    torch.manual_seed(args.seed)
    images, labels = digits.load_digits_dataset().tensors
    order = torch.randperm(len(labels))
    test_x, test_y = images[order[:args.test_size]], labels[order[:args.test_size]]
    train_x, train_y = images[order[args.test_size:]], labels[order[args.test_size:]]

    model = digits.make_model("cnn")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    started = time.perf_counter()
    for step in range(args.steps):
        batch = torch.randint(0, len(train_y), (args.batch_size,))
        loss = loss_fn(model(train_x[batch]), train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    print(f"trained {args.steps} steps in {time.perf_counter() - started:.1f} s")

    model.eval()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "digits_cnn.onnx")
    # traced at a batch of 2; the batch axis stays symbolic, so onnxruntime takes any batch size
    torch.onnx.export(model, (test_x[:2],), path, input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, opset_version=args.opset)
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} KiB, opset {args.opset})")

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3                   # errors only
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    ort_logits = session.run(None, {"images": test_x.numpy()})[0]
    with torch.no_grad():
        ember_logits = model(test_x).numpy()
    ember_pred, ort_pred = ember_logits.argmax(1), ort_logits.argmax(1)
    truth = test_y.numpy()

    print(f"\n{'image':>5}  {'label':>5}  {'ember':>5}  {'onnxruntime':>11}")
    for i in range(min(args.show, len(truth))):
        print(f"{i:5d}  {truth[i]:5d}  {ember_pred[i]:5d}  {ort_pred[i]:11d}")
    difference = float(np.abs(ember_logits - ort_logits).max())
    agree = float((ember_pred == ort_pred).mean())
    print(f"\naccuracy on {len(truth)} test images: ember {(ember_pred == truth).mean():.2%}, onnxruntime "
          f"{(ort_pred == truth).mean():.2%}; predictions agree on {agree:.2%}")
    print(f"max abs difference of the logits: {difference:.2e}")
    return {"path": path, "ember_logits": ember_logits, "ort_logits": ort_logits, "labels": truth,
            "max_abs_diff": difference}


if __name__ == "__main__":
    main()
