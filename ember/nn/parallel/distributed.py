"""DistributedDataParallel: one model replica per rank, gradients averaged across ranks during backward.

At construction rank 0's parameters and buffers are broadcast to every rank (after checking that every rank
holds the same parameter shapes). The parameters are laid out, last first, in buckets (the first of 1 MiB, the
others of bucket_cap_mb): backward produces the last layers' gradients first, so each bucket fills in turn, and
as soon as one is full its gradients are averaged with an asynchronous all_reduce while backward goes on with
the earlier layers. The last gradient of a backward waits for every bucket's all_reduce and writes the averages
into the parameters' .grad. Buckets start in the same order on every rank, so the collectives always match.

Parameters that get no gradient in a backward leave their bucket unfinished: the next forward then raises, as
PyTorch does, unless find_unused_parameters=True, which finds them after each forward (walking the output's
graph) and counts them as zero. A parameter no rank used keeps its .grad as it was.
"""
import contextlib
import weakref

from ... import distributed as dist
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ...utils._pytree import tensor_leaves
from ..modules.module import Module
from .data_parallel import _to_device

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024


class _Bucket:
    __slots__ = ("indices", "offsets", "flat", "pending", "work")

    def __init__(self, indices, offsets, flat):
        self.indices = indices          # the parameters' positions in DDP's parameter list
        self.offsets = offsets          # (start, end) of each in flat
        self.flat = flat                # one contiguous tensor of their gradients
        self.pending = len(indices)
        self.work = None


def _leaves_reached(outputs):
    """ids of the leaf tensors whose gradient a backward from these outputs would reach."""
    tensors = tensor_leaves(outputs)
    reached = {id(t) for t in tensors if t.grad_fn is None and t.requires_grad}
    stack = [t.grad_fn for t in tensors if t.grad_fn is not None]
    seen = set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if variable is not None:
            reached.add(id(variable))
        stack.extend(nxt for nxt, _ in node.next_functions if nxt is not None and nxt not in seen)
    return reached


class DistributedDataParallel(Module):
    """PyTorch's DistributedDataParallel on ember.distributed's process group (see the module docstring)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None,
                 skip_all_reduce_unused_params=False, bucket_cap_mb_list=None, batched_grad_copy=False,
                 forward_sync_buffers=None):
        super().__init__()
        if process_group is None:
            if not dist.is_initialized():
                raise ValueError("Default process group has not been initialized, please make sure to call "
                                 "init_process_group.")
            process_group = dist.group.WORLD
        elif process_group == dist.GroupMember.NON_GROUP_MEMBER:
            raise ValueError("DistributedDataParallel: this rank is not a member of process_group")
        params, seen = [], set()
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter that "
                               "requires a gradient.")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        self.module = module
        self.process_group = process_group
        self.device_ids = None if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._params = params
        self._world = process_group.size()
        self._root = dist.get_global_rank(process_group, 0)
        self._verify_same_model()
        if init_sync:
            self._broadcast_from_root(list(params) + list(module.buffers()))
        cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self._build_buckets(min(_FIRST_BUCKET_BYTES, cap), cap)
        self._armed = False             # a forward with sync has run: the next backward reduces
        self._fired = False             # some gradient of this backward has arrived
        self._ready = [False] * len(params)
        self._unused = ()
        self._used_work = None
        self._used = None
        self._next_bucket = 0
        ref = weakref.ref(self)

        def hook_for(index):
            def hook(param):
                ddp = ref()
                if ddp is not None and ddp._armed:
                    ddp._grad_ready(index)
            return hook
        self._hook_handles = [p.register_post_accumulate_grad_hook(hook_for(i)) for i, p in enumerate(params)]

    # -- construction ----------------------------------------------------------------------------------------
    def _verify_same_model(self):
        mine = [(tuple(p.shape), str(p.dtype)) for p in self._params]
        every = [None] * self._world
        dist.all_gather_object(every, mine, group=self.process_group)
        for rank, theirs in enumerate(every):
            if len(theirs) != len(every[0]):
                raise RuntimeError(f"DistributedDataParallel expects the same model on every rank, but group rank 0 "
                                   f"has {len(every[0])} parameters and group rank {rank} has {len(theirs)}.")
            for i, (a, b) in enumerate(zip(every[0], theirs)):
                if a != b:
                    raise RuntimeError(f"DistributedDataParallel expects the same model on every rank, but parameter "
                                       f"{i} has shape {list(a[0])} ({a[1]}) on group rank 0 and shape {list(b[0])} "
                                       f"({b[1]}) on group rank {rank}.")

    def _broadcast_from_root(self, tensors):
        """Copy rank 0's values into `tensors` on every rank: one broadcast per dtype and device."""
        groups = {}
        for t in tensors:
            groups.setdefault((t.dtype, t.device), []).append(t)
        with no_grad():
            for members in groups.values():
                from ... import cat
                flat = cat([t.detach().reshape(-1) for t in members])
                dist.broadcast(flat, src=self._root, group=self.process_group)
                at = 0
                for t in members:
                    n = t.numel()
                    t.copy_(flat[at:at + n].view(t.shape))
                    at += n

    def _build_buckets(self, first_cap, cap):
        """Buckets of at most `cap` bytes (the first: first_cap), parameters last first, one dtype and device each."""
        from ... import zeros
        open_buckets, buckets = {}, []

        def close(key):
            indices = open_buckets.pop(key)
            offsets, at = [], 0
            for i in indices:
                n = self._params[i].numel()
                offsets.append((at, at + n))
                at += n
            p = self._params[indices[0]]
            buckets.append(_Bucket(indices, offsets, zeros(at, dtype=p.dtype, device=p.device)))
        sizes = {}
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            key = (p.dtype, p.device)
            open_buckets.setdefault(key, []).append(i)
            sizes[key] = sizes.get(key, 0) + p.numel() * p.element_size()
            if sizes[key] >= (first_cap if not buckets else cap):
                close(key)
                sizes[key] = 0
        for key in list(open_buckets):
            close(key)
        self._buckets = buckets
        self._where = {}
        for b, bucket in enumerate(buckets):
            for slot, i in enumerate(bucket.indices):
                self._where[i] = (bucket, slot)

    # -- forward ---------------------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self._armed and self._fired:
            self._armed = False
            missing = [name for name, p in self.module.named_parameters() if p.requires_grad and any(
                q is p and not self._ready[i] for i, q in enumerate(self._params))]
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss: "
                f"{', '.join(missing) or '(none found)'}. Pass find_unused_parameters=True to "
                "DistributedDataParallel to allow it, and make sure every output of forward takes part in the loss.")
        if self.device_ids:
            inputs, kwargs = _to_device(inputs, self.device_ids[0]), _to_device(kwargs, self.device_ids[0])
        sync = is_grad_enabled() and self.require_backward_grad_sync
        self.require_forward_param_sync = sync
        if sync and self.broadcast_buffers:
            buffers = list(self.module.buffers())
            if buffers:
                self._broadcast_from_root(buffers)
        output = self.module(*inputs, **kwargs)
        if sync:
            self._prepare_for_backward(output)
        else:
            self._armed = False
        return output

    def _prepare_for_backward(self, output):
        self._armed, self._fired = True, False
        self._ready = [False] * len(self._params)
        for bucket in self._buckets:
            bucket.pending, bucket.work = len(bucket.indices), None
        self._next_bucket = 0
        if self.find_unused_parameters:
            reached = _leaves_reached(output)
            self._unused = [i for i, p in enumerate(self._params) if id(p) not in reached]
        else:
            self._unused = ()

    @contextlib.contextmanager
    def no_sync(self):
        """Backward inside the block only accumulates .grad locally; the first backward after it averages the
        accumulated gradients."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # -- backward --------------------------------------------------------------------------------------------
    def _grad_ready(self, index):
        if not self._fired:
            self._fired = True
            if self.find_unused_parameters:
                from ... import tensor
                self._used = tensor([0 if i in self._unused else 1 for i in range(len(self._params))],
                                    dtype=_int32(), device=self._params[0].device)
                self._used_work = dist.all_reduce(self._used, group=self.process_group, async_op=True)
                for i in self._unused:
                    self._mark(i, None)
        param = self._params[index]
        self._mark(index, param.grad)

    def _mark(self, index, grad):
        if self._ready[index]:
            raise RuntimeError(f"DistributedDataParallel: parameter {index} got its gradient twice in one backward "
                               "(two backward passes through one forward need no_sync() for all but the last)")
        self._ready[index] = True
        bucket, slot = self._where[index]
        start, end = bucket.offsets[slot]
        # the buckets are DDP's own arrays: filled directly, without recording ops (same device and dtype)
        piece = bucket.flat._array[start:end]
        if grad is None:
            piece[...] = 0
        elif not (self.gradient_as_bucket_view and grad._array.base is bucket.flat._array):
            piece[...] = grad._array.reshape(-1)
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch_ready()
        elif self._next_bucket:
            # MPI moves a nonblocking collective along only inside MPI calls: one test per gradient keeps the
            # launched buckets' all-reduces going while backward computes the rest
            self._buckets[self._next_bucket - 1].work.is_completed()

    def _launch_ready(self):
        buckets = self._buckets
        while self._next_bucket < len(buckets) and buckets[self._next_bucket].pending == 0:
            bucket = buckets[self._next_bucket]
            with no_grad():
                bucket.flat.div_(self._world)
            bucket.work = dist.all_reduce(bucket.flat, group=self.process_group, async_op=True)
            self._next_bucket += 1
        if self._next_bucket == len(buckets):
            self._finish()

    def _finish(self):
        """Wait for every bucket and write the averaged gradients into .grad."""
        self._armed = False
        used = None
        if self._used_work is not None:
            self._used_work.wait()
            used = self._used.tolist()
            self._used_work = None
        with no_grad():
            for bucket in self._buckets:
                bucket.work.wait()
                for slot, i in enumerate(bucket.indices):
                    if used is not None and not used[i]:
                        continue                    # no rank used it: its .grad stays as it was
                    param = self._params[i]
                    start, end = bucket.offsets[slot]
                    grad = param.grad
                    if self.gradient_as_bucket_view:
                        if grad is None or grad._array.base is not bucket.flat._array:
                            param.grad = bucket.flat[start:end].view(param.shape)
                    elif grad is None:
                        param.grad = bucket.flat[start:end].view(param.shape).clone()
                    else:
                        grad._array[...] = bucket.flat._array[start:end].reshape(grad._array.shape)
                        grad._bump_version()


def _int32():
    from ... import int32
    return int32
