"""Variable-length sequences: PackedSequence, pack/pad helpers (PyTorch's nn.utils.rnn).

A packed batch is time-major: step t holds the first batch_sizes[t] sequences (sorted longest
first), so `data` is every step's rows stacked. Packing and unpacking are one index_select each
(differentiable) on the data's device, with the row indices computed on the host in NumPy from the lengths and
batch sizes, which PyTorch keeps on the host whatever the data's device (see _host_ints).
"""
import collections

import numpy as np

from ... import _dtype as _dt
from ... import ops
from ..._tensor import Tensor
from .. import functional as F

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "unpad_sequence",
           "pack_sequence", "unpack_sequence", "invert_permutation"]

_PackedSequenceBase = collections.namedtuple("PackedSequence",
                                             ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


def invert_permutation(permutation):
    """The permutation that undoes `permutation` (None stays None)."""
    if permutation is None:
        return None
    return permutation.argsort()                # sorting a permutation gives its inverse, on its own device


class PackedSequence(_PackedSequenceBase):
    """data (sum(lengths), *), batch_sizes (int64, per time step), sorted/unsorted batch permutations."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None and not isinstance(batch_sizes, Tensor):
            batch_sizes = ops.tensor(batch_sizes, dtype=_dt.int64)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _replace_data(self, data):
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        device = data.device
        sorted_indices = None if self.sorted_indices is None else self.sorted_indices.to(device)
        unsorted_indices = None if self.unsorted_indices is None else self.unsorted_indices.to(device)
        return type(self)(data, self.batch_sizes, sorted_indices, unsorted_indices)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, *args, **kwargs):
        return self.to("cuda")

    def double(self):
        return self._replace_data(self.data.double())

    def float(self):
        return self._replace_data(self.data.float())

    def half(self):
        return self._replace_data(self.data.half())

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def _lengths_array(lengths):
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1 or lengths.device.type != "cpu":      # PyTorch reads lengths on the host only
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.ndim}D "
                               f"{lengths.device} Long tensor")
        lengths = lengths.tolist()
    return _host_ints(list(lengths))


def _host_ints(values):
    """Host int64 array of lengths, batch sizes or a batch permutation (Python ints, read once from a host copy).
    PyTorch keeps these on the host whatever the data's device (lengths must be a cpu tensor or a list,
    batch_sizes is always a cpu tensor), and so is the row bookkeeping computed from them here: its result reaches
    the data's device once, as the index of one index_select."""
    return np.asarray(values, dtype=np.int64).reshape(-1)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded (T, B, *) (or (B, T, *)) batch whose sequences have the given lengths."""
    lengths = _lengths_array(lengths)
    batch_dim = 0 if batch_first else 1
    if lengths.shape[0] != input.shape[batch_dim]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {lengths.shape[0]} "
                           f"(batch_size={input.shape[batch_dim]})")
    if enforce_sorted:
        if np.any(lengths[1:] > lengths[:-1]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                               "to sidestep this requirement if you do not need ONNX exportability.")
        order = None
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
    if lengths.size and lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    if lengths.size and lengths[0] > input.shape[1 - batch_dim]:
        raise RuntimeError(f"pack_padded_sequence: a length ({lengths[0]}) exceeds the padded sequence length "
                           f"({input.shape[1 - batch_dim]})")
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[0], input.shape[1]
    # host bookkeeping (see _host_ints): sequence b is alive at step t while t < its length; the packed rows are
    # the alive (t, b) cells in time-major order, b running over the sorted batch
    step = np.arange(int(lengths[0]) if lengths.size else 0)[:, None]
    alive = lengths[None, :] > step
    rows = (step * batch + (np.arange(batch) if order is None else order))[alive]
    flat = input.reshape(steps * batch, *input.shape[2:])
    data = flat.index_select(0, ops.tensor(rows, device=input.device))
    sorted_indices = None if order is None else ops.tensor(order, device=input.device)
    return PackedSequence(data, ops.tensor(alive.sum(1, dtype=np.int64)), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of pack_padded_sequence: (padded (T, B, *), lengths) in the original batch order."""
    data, batch_sizes = sequence.data, _host_ints(sequence.batch_sizes.tolist())
    steps = batch_sizes.shape[0]
    batch = int(batch_sizes[0]) if steps else 0
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps_out = total_length
    else:
        steps_out = steps
    # host bookkeeping (see _host_ints): the row of `data` for each (t, b) of the padded output, the packed rows
    # filling the alive cells (b < batch_sizes[t]) in time-major order; the extra last row holds padding_value
    alive = batch_sizes[:, None] > np.arange(batch)
    where = np.full((steps_out, batch), data.shape[0], dtype=np.int64)
    where[:steps][alive] = np.arange(int(batch_sizes.sum()))
    lengths = alive.sum(0, dtype=np.int64)
    if sequence.unsorted_indices is not None:
        order = _host_ints(sequence.unsorted_indices.tolist())
        where = where[:, order]
        lengths = lengths[order]
    pad_row = ops.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    source = ops.cat([data, pad_row], 0)
    padded = source.index_select(0, ops.tensor(where.reshape(-1), device=data.device))
    padded = padded.reshape(steps_out, batch, *data.shape[1:])
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, ops.tensor(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack (L_i, *) tensors into (max L, B, *) (or (B, max L, *)), padding with padding_value."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        if extra:
            pad = [0, 0] * (s.ndim - 1) + ([0, extra] if padding_side == "right" else [extra, 0])
            s = F.pad(s, pad, value=padding_value)
        padded.append(s)
    return ops.stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into a list of unpadded sequences."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    if isinstance(lengths, Tensor):                 # on any device (pack_padded_sequence takes cpu lengths only)
        lengths = lengths.tolist()
    return [seq[:int(length)] for seq, length in zip(padded_sequences, _lengths_array(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) tensors (longest first unless enforce_sorted=False)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences a PackedSequence holds, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
