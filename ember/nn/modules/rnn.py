"""Recurrent layers: RNN, LSTM, GRU (multi-layer, bidirectional, packed sequences) and their cells.

Speed: an unpacked float32/float64 sequence runs each layer and direction as one autograd node whose
forward and backward loop over time on arrays (Note [fused LSTM layer] in ops/recurrent.py). Otherwise
(packed sequences, projections, autocast, forward AD, vmap, other dtypes) the input projection of
every time step is one matmul over the whole sequence before the time loop, and inside the loop each step
does one matmul for all gates of the hidden state and one fused gate node. Parameter names, shapes, gate
order (LSTM i, f, g, o; GRU r, z, n) and initialisation are PyTorch's, so state_dicts load either way.
"""
import math
import numbers
import sys
import warnings

from ... import _dtype as _dt
from ... import ops
from ..._tensor import Tensor
from ...amp._dispatch import AUTOCAST, autocast_args
from ...autograd.forward_ad import _Fw
from ...ops import recurrent as _recurrent
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


# --- one time step, on Tensors. `gates_in` is the input projection (with its bias) for this step --------------

def _rnn_step(gates_in, h, w_hh, b_hh, relu):
    pre = gates_in + F.linear(h, w_hh, b_hh)
    return pre.relu() if relu else pre.tanh()


def _lstm_step(gates_in, h, c, w_hh, b_hh, w_hr):
    h, c = _recurrent.LSTMCell.apply(gates_in, F.linear(h, w_hh, b_hh), c)     # one matmul for all four gates
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _gru_step(gates_in, h, w_hh, b_hh):
    return _recurrent.GRUCell.apply(gates_in, F.linear(h, w_hh, b_hh), h)      # one matmul for all three gates


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for kind, shape in shapes:
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(ops.empty(*shape, device=device, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        # PyTorch's recipe: every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self):
        """PyTorch compacts weights for cuDNN here; ember has nothing to do."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # --- forward ---------------------------------------------------------------------------------------------
    def _weights(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""

        def get(kind):
            return getattr(self, f"{kind}_l{layer}{suffix}", None)
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")

    def _prepare(self, input, hx):
        """Time-major 2-D data, per-step batch sizes, initial states and how to restore the layout."""
        name = type(self).__name__
        packed = isinstance(input, PackedSequence)
        layout = {"packed": packed, "unbatched": False}
        if packed:
            data = input.data
            batch_sizes = [int(b) for b in input.batch_sizes.tolist()]
            batch = batch_sizes[0] if batch_sizes else 0
            if hx is not None and input.sorted_indices is not None:
                hx = self._permute_hidden(hx, input.sorted_indices)
        else:
            if not isinstance(input, Tensor) or input.ndim not in (2, 3):
                got = input.ndim if isinstance(input, Tensor) else type(input).__name__
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {got}D instead")
            layout["unbatched"] = input.ndim == 2
            if layout["unbatched"]:
                input = input.unsqueeze(1)
            elif self.batch_first:
                input = input.transpose(0, 1)
            steps, batch = input.shape[0], input.shape[1]
            data = input                        # (steps, batch, features); forward() makes rows of it if needed
            batch_sizes = [batch] * steps
            layout["steps"] = steps
            if hx is not None:
                states = hx if isinstance(hx, tuple) else (hx,)
                want = 2 if layout["unbatched"] else 3
                for state in states:
                    if state.ndim != want:
                        kind = "unbatched 2-D" if want == 2 else "batched 3-D"
                        raise RuntimeError(f"For {kind} input, hx{' and cx' if len(states) > 1 else ''} should "
                                           f"also be {want}-D but got {state.ndim}-D tensor")
                if layout["unbatched"]:
                    hx = tuple(s.unsqueeze(1) for s in states) if isinstance(hx, tuple) else hx.unsqueeze(1)
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{data.shape[-1]}")
        layout["batch"] = batch
        return data, batch_sizes, hx, layout

    def _initial_states(self, hx, batch, data):
        directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        h_shape = (self.num_layers * directions, batch, real_hidden)
        c_shape = (self.num_layers * directions, batch, self.hidden_size)
        if self.mode == "LSTM":
            if hx is None:
                zeros = ops.zeros(h_shape, dtype=data.dtype, device=data.device)
                return zeros, ops.zeros(c_shape, dtype=data.dtype, device=data.device)
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError("LSTM: hx must be a tuple (h_0, c_0)")
            h0, c0 = hx
            self._check_hidden(h0, h_shape, "Expected hidden[0] size {}, got {}")
            self._check_hidden(c0, c_shape, "Expected hidden[1] size {}, got {}")
            return h0, c0
        if hx is None:
            return ops.zeros(h_shape, dtype=data.dtype, device=data.device), None
        self._check_hidden(hx, h_shape, "Expected hidden size {}, got {}")
        return hx, None

    @staticmethod
    def _check_hidden(state, shape, message):
        if tuple(state.shape) != shape:
            raise RuntimeError(message.format(shape, list(state.shape)))

    @staticmethod
    def _permute_hidden(hx, permutation):
        if isinstance(hx, tuple):
            return tuple(s.index_select(1, permutation) for s in hx)
        return hx.index_select(1, permutation)

    def _run_direction(self, data, batch_sizes, h0, c0, weights, reverse):
        """One layer, one direction over time-major packed rows: (outputs (rows, H_out), h_n, c_n)."""
        w_ih, w_hh, b_ih, b_hh, w_hr = weights
        mode = self.mode
        if mode == "GRU" or b_ih is None:
            gates_in = F.linear(data, w_ih, b_ih)           # GRU keeps b_hh inside r * (W_hn h + b_hn)
            step_bias = b_hh
        else:
            gates_in = F.linear(data, w_ih, b_ih + b_hh)    # one matmul over every time step
            step_bias = None
        steps_in = _recurrent.split_rows(gates_in, batch_sizes)          # one node; its backward is one concatenation
        steps = len(batch_sizes)
        outputs = [None] * steps
        finished_h, finished_c = [], []
        h, c = h0, c0
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        if reverse and steps:
            h = h0[:batch_sizes[-1]]
            c = c0[:batch_sizes[-1]] if c0 is not None else None
        for t in order:
            size = batch_sizes[t]
            rows = h.shape[0]
            if size < rows:                                  # sequences that ended: keep their last state
                finished_h.append(h[size:])
                h = h[:size]
                if c is not None:
                    finished_c.append(c[size:])
                    c = c[:size]
            elif size > rows:                                # (reverse) sequences that start now
                h = ops.cat([h, h0[rows:size]], 0)
                if c is not None:
                    c = ops.cat([c, c0[rows:size]], 0)
            x = steps_in[t]
            if mode == "LSTM":
                h, c = _lstm_step(x, h, c, w_hh, step_bias, w_hr)
            elif mode == "GRU":
                h = _gru_step(x, h, w_hh, step_bias)
            else:
                h = _rnn_step(x, h, w_hh, step_bias, mode == "RNN_RELU")
            outputs[t] = h
        output = ops.cat(outputs, 0) if steps > 1 else outputs[0]
        h_n = ops.cat([h] + finished_h[::-1], 0) if finished_h else h
        c_n = (ops.cat([c] + finished_c[::-1], 0) if finished_c else c) if c is not None else None
        return output, h_n, c_n

    def _fusable(self, data, layout):
        """Whether the layers run as fused sequence nodes (Note [fused LSTM layer]): an unpacked, non-empty
        float32/float64 sequence without projections, outside autocast, forward AD and vmap (whose casts,
        tangents and batching go through the per-step ops)."""
        if self.proj_size or layout["packed"] or not layout["steps"] or not layout["batch"] or _Fw.on or AUTOCAST:
            return False
        dtype = data.dtype
        if dtype not in (_dt.float32, _dt.float64) or data.device.type not in ("cpu", "cuda") or \
                any(weight.dtype is not dtype for weight in self._flat_weights):
            return False
        vmapping = sys.modules.get("ember._vmap")
        return vmapping is None or not vmapping._Vmap.level

    def forward(self, input, hx=None):
        if self.mode == "LSTM" and isinstance(hx, (tuple, list)):
            hx = _lstm_states(hx, "lstm")         # PyTorch takes any sequence (h_0, c_0), a list too
        data, batch_sizes, hx, layout = self._prepare(input, hx)
        h0, c0 = self._initial_states(hx, layout["batch"], data)
        # autocast: PyTorch runs a float32 LSTM without projections on the CPU as oneDNN layers, and any RNN on
        # CUDA as cuDNN's, which it casts
        lowp = None
        if "mkldnn_rnn_layer" in AUTOCAST and self.mode == "LSTM" and not self.proj_size and \
                not layout["packed"] and data.dtype is _dt.float32 and data.numel() > 0:
            lowp = "mkldnn_rnn_layer"
        elif "_cudnn_rnn" in AUTOCAST and data.device.type == "cuda":
            lowp = "_cudnn_rnn"
        if lowp:
            data, h0, c0 = autocast_args((lowp,), data, h0, c0)
        directions = 2 if self.bidirectional else 1
        # (states of another dtype or device take the per-step path, which raises PyTorch's error)
        fused = self._fusable(data, layout) and h0.dtype is data.dtype and \
            h0.device == data.device and (c0 is None or c0.dtype is data.dtype and c0.device == data.device)
        if not fused and not layout["packed"]:
            data = data.reshape(layout["steps"] * layout["batch"], data.shape[2])
        layer_input = data
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            # only the last layer's output is laid out batch-major: a layer below feeds dropout, whose mask is
            # drawn over PyTorch's time-major layer output
            batch_major = self.batch_first and layer == self.num_layers - 1
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                weights = self._weights(layer, direction)
                if lowp:
                    weights = autocast_args((lowp,), *weights)
                if fused and c0 is not None:    # Note [fused LSTM layer] in ops/recurrent.py: one node a layer
                    out, h, c = _recurrent.lstm_layer(layer_input, h0[index], c0[index], *weights[:4],
                                                      reverse=direction == 1, batch_major=batch_major)
                elif fused and self.mode == "GRU":
                    out, h = _recurrent.gru_layer(layer_input, h0[index], *weights[:4], reverse=direction == 1,
                                                  batch_major=batch_major)
                    c = None
                elif fused:
                    out, h = _recurrent.rnn_layer(layer_input, h0[index], *weights[:4], relu=self.mode == "RNN_RELU",
                                                  reverse=direction == 1, batch_major=batch_major)
                    c = None
                else:
                    out, h, c = self._run_direction(layer_input, batch_sizes, h0[index],
                                                    c0[index] if c0 is not None else None,
                                                    weights, reverse=direction == 1)
                outputs.append(out)
                h_n.append(h)
                if c is not None:
                    c_n.append(c)
            layer_input = ops.cat(outputs, -1) if directions == 2 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        h_n = ops.stack(h_n, 0)
        c_n = ops.stack(c_n, 0) if c_n else None
        hidden = (h_n, c_n) if self.mode == "LSTM" else h_n
        if layout["packed"]:
            output = PackedSequence(layer_input, input.batch_sizes, input.sorted_indices, input.unsorted_indices)
            if input.unsorted_indices is not None:
                hidden = self._permute_hidden(hidden, input.unsorted_indices)
            return output, hidden
        output = layer_input if fused else layer_input.reshape(layout["steps"], layout["batch"],
                                                                 layer_input.shape[-1])
        if layout["unbatched"]:
            output = output.squeeze(1)
            hidden = tuple(s.squeeze(1) for s in hidden) if isinstance(hidden, tuple) else hidden.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, hidden


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, *args, **kwargs):
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if len(args) > 3:                                   # PyTorch's positional order puts it fourth
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory; returns output, (h_n, c_n). proj_size > 0 projects h with weight_hr."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


# --- cells ------------------------------------------------------------------------------------------------------

def _lstm_states(hx, name):
    """An LSTM's (h_0, c_0) given as a tuple or a list, as a tuple; PyTorch's errors for another count."""
    if len(hx) == 2:
        return tuple(hx)
    if len(hx) < 2 and name == "lstm":             # PyTorch's LSTM.forward reads hx[0] and hx[1]
        raise IndexError(f"{type(hx).__name__} index out of range")
    raise RuntimeError(f"{name} expects two hidden states")


class RNNCellBase(Module):
    """weight_ih (chunks*hidden, input), weight_hh (chunks*hidden, hidden), bias_ih, bias_hh."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(ops.empty(num_chunks * hidden_size, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(ops.empty(num_chunks * hidden_size, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(ops.empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(ops.empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def _batched(self, input, hx, name):
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}")
        states = hx if isinstance(hx, tuple) else (hx,)
        for state in states:
            if state is not None and state.ndim != input.ndim:
                raise RuntimeError(f"{name}: Expected hidden to be {input.ndim}D, got {state.ndim}D instead")
        unbatched = input.ndim == 1
        if unbatched:
            input = input.unsqueeze(0)
            if isinstance(hx, tuple):
                hx = tuple(s.unsqueeze(0) for s in hx)
            elif hx is not None:
                hx = hx.unsqueeze(0)
        return input, hx, unbatched

    def _zeros(self, input):
        return ops.zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)


def _cell_autocast(name, *tensors):
    """A cell's input, states and weights as autocast gives them to PyTorch's cell kernel (`name`, on CUDA's
    lower-precision list), or as they are."""
    return autocast_args((name,), *tensors) if name in AUTOCAST else tensors


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, hx, unbatched = self._batched(input, hx, "RNNCell")
        h = self._zeros(input) if hx is None else hx
        w_ih, w_hh, b_ih, b_hh = self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
        if AUTOCAST:
            input, h, w_ih, w_hh, b_ih, b_hh = _cell_autocast(
                "rnn_relu_cell" if self.nonlinearity == "relu" else "rnn_tanh_cell", input, h, w_ih, w_hh, b_ih, b_hh)
        h = _rnn_step(F.linear(input, w_ih, b_ih), h, w_hh, b_hh, self.nonlinearity == "relu")
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step; returns (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        if hx is not None:
            if not isinstance(hx, (tuple, list)):
                raise TypeError(f"lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, not "
                                f"{type(hx).__name__}")
            hx = _lstm_states(hx, "lstm_cell")
        input, hx, unbatched = self._batched(input, hx, "LSTMCell")
        if hx is None:
            hx = (self._zeros(input), self._zeros(input))
        (h, c), w_ih, w_hh, b_ih, b_hh = hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
        if AUTOCAST:
            input, h, c, w_ih, w_hh, b_ih, b_hh = _cell_autocast("lstm_cell", input, h, c, w_ih, w_hh, b_ih, b_hh)
        h, c = _lstm_step(F.linear(input, w_ih, b_ih), h, c, w_hh, b_hh, None)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        input, hx, unbatched = self._batched(input, hx, "GRUCell")
        h = self._zeros(input) if hx is None else hx
        w_ih, w_hh, b_ih, b_hh = self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
        if AUTOCAST:
            input, h, w_ih, w_hh, b_ih, b_hh = _cell_autocast("gru_cell", input, h, w_ih, w_hh, b_ih, b_hh)
        h = _gru_step(F.linear(input, w_ih, b_ih), h, w_hh, b_hh)
        return h.squeeze(0) if unbatched else h
