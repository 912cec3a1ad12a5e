"""The Summary protocol buffers SummaryWriter writes, built with tensorboard's own protos (no TensorFlow):
scalars (old style simple_value, or new style tensors), histograms (TensorFlow's default buckets, trimmed to
the support of the data), PNG images, text, hyperparameters (the hparams plugin's three summaries), raw
tensors, WAV audio, custom-scalar layouts and precision-recall curves. Each mirrors what PyTorch's
torch.utils.tensorboard.summary writes for the same call, so TensorBoard shows the same thing."""
import io
import logging
import struct

import numpy as np
from google.protobuf import struct_pb2
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

from ._convert import convert_to_HWC, make_np

__all__ = ["scalar", "histogram", "histogram_raw", "make_histogram", "image", "make_image", "text", "hparams",
           "tensor_proto", "audio", "custom_scalars", "pr_curve", "pr_curve_raw", "compute_curve",
           "default_bins"]

logger = logging.getLogger(__name__)
_DEFAULT_BINS = []


def default_bins():
    """TensorFlow's histogram buckets ("tensorflow" bins): +-1e-12 growing by 10% up to 1e20, and 0. Built by
    repeated multiplication (not powers) so the limits are the very floats PyTorch's writer uses."""
    if not _DEFAULT_BINS:
        positive, v = [], 1e-12
        while v < 1e20:
            positive.append(v)
            v *= 1.1
        _DEFAULT_BINS.extend([-b for b in reversed(positive)] + [0] + positive)
    return _DEFAULT_BINS


def _plugin(name, content=b""):
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=name, content=content))


def _shape_proto(shape):
    return TensorShapeProto(dim=[TensorShapeProto.Dim(size=int(s)) for s in shape])


def scalar(name, tensor, collections=None, new_style=False, double_precision=False):
    """One number: simple_value, or with new_style a float (double_precision: double) tensor of the scalars
    plugin."""
    value = make_np(tensor).squeeze()
    if value.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). Was given size: {value.size} "
                             f"and {value.ndim} dimensions.")
    value = float(value)
    if not new_style:
        return Summary(value=[Summary.Value(tag=name, simple_value=value)])
    proto = (TensorProto(double_val=[value], dtype="DT_DOUBLE") if double_precision
             else TensorProto(float_val=[value], dtype="DT_FLOAT"))
    return Summary(value=[Summary.Value(tag=name, tensor=proto, metadata=_plugin("scalars"))])


def histogram_raw(name, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):
    """A histogram the caller already binned (bucket_limits are the right edges)."""
    hist = HistogramProto(min=min, max=max, num=num, sum=sum, sum_squares=sum_squares,
                          bucket_limit=bucket_limits, bucket=bucket_counts)
    return Summary(value=[Summary.Value(tag=name, histo=hist)])


def histogram(name, values, bins, max_bins=None):
    values = make_np(values)
    return Summary(value=[Summary.Value(tag=name, histo=make_histogram(values.astype(float), bins, max_bins))])


def make_histogram(values, bins, max_bins=None):
    """NumPy's histogram of the values, as TensorBoard reads it: right bucket edges only, so the buckets run
    from one empty bucket left of the first non-empty one to the last non-empty one. max_bins merges
    neighbouring buckets (zero-padding the last group) until there are at most that many."""
    if values.size == 0:
        raise ValueError("The input has no element.")
    values = values.reshape(-1)
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        group = len(counts) // max_bins
        short = len(counts) % group
        if short:
            counts = np.concatenate([counts, np.zeros(group - short, counts.dtype)])
        counts = counts.reshape(-1, group).sum(axis=-1)
        limits = np.concatenate([limits[:-1:group], limits[-1:]])
    nonzero = np.flatnonzero(counts > 0)
    first = int(nonzero[0]) if nonzero.size else len(counts)
    end = int(nonzero[-1]) + 1 if nonzero.size else 1
    counts = counts[first - 1:end] if first > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[first:end + 1]
    if counts.size == 0 or limits.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    return HistogramProto(min=values.min(), max=values.max(), num=len(values), sum=values.sum(),
                          sum_squares=values.dot(values), bucket_limit=limits.tolist(), bucket=counts.tolist())


def image(tag, tensor, rescale=1, dataformats="NCHW"):
    """A PNG image: uint8 data is taken as 0..255, anything else as 0..1 (scaled by 255); clipped."""
    array = convert_to_HWC(make_np(tensor), dataformats)
    scale = 1 if array.dtype == np.uint8 else 255
    array = (array.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    return Summary(value=[Summary.Value(tag=tag, image=make_image(array, rescale=rescale))])


def make_image(tensor, rescale=1, rois=None, labels=None):
    """Summary.Image of an HWC uint8 array, PNG-encoded with Pillow (resized by `rescale`, Lanczos); `rois`
    (N, 4) boxes are drawn in red first."""
    from PIL import Image
    height, width, channels = tensor.shape
    picture = Image.fromarray(tensor)
    if rois is not None:
        _draw_boxes(picture, rois, labels)
    picture = picture.resize((int(width * rescale), int(height * rescale)), Image.Resampling.LANCZOS)
    with io.BytesIO() as buffer:
        picture.save(buffer, format="PNG")
        encoded = buffer.getvalue()
    return Summary.Image(height=height, width=width, colorspace=channels, encoded_image_string=encoded)


def _draw_boxes(picture, boxes, labels=None, thickness=2):
    """Red rectangles (xmin, ymin, xmax, ymax), each with its label on a red band above its bottom edge."""
    from PIL import ImageDraw, ImageFont
    draw, font = ImageDraw.Draw(picture), ImageFont.load_default()
    for i, (left, top, right, bottom) in enumerate(boxes[:, :4].tolist()):
        draw.line([(left, top), (left, bottom), (right, bottom), (right, top), (left, top)], width=thickness,
                  fill="Red")
        label = None if labels is None else labels[i]
        if label:
            x0, y0, x1, y1 = font.getbbox(label)
            margin = np.ceil(0.05 * (y1 - y0))
            draw.rectangle([(left, bottom - (y1 - y0) - 2 * margin), (left + x1 - x0, bottom)], fill="Red")
            draw.text((left + margin, bottom - (y1 - y0) - margin), label, fill="black", font=font)


def image_boxes(tag, tensor_image, tensor_boxes, rescale=1, dataformats="CHW", labels=None):
    array = convert_to_HWC(make_np(tensor_image), dataformats)
    scale = 1 if array.dtype == np.uint8 else 255
    array = (array.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    picture = make_image(array, rescale=rescale, rois=make_np(tensor_boxes), labels=labels)
    return Summary(value=[Summary.Value(tag=tag, image=picture)])


def text(tag, text):
    """A string for the text plugin, under `<tag>/text_summary`."""
    from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData
    proto = TensorProto(dtype="DT_STRING", string_val=[text.encode(encoding="utf_8")], tensor_shape=_shape_proto([1]))
    metadata = _plugin("text", TextPluginData(version=0).SerializeToString())
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=metadata, tensor=proto)])


def hparams(hparam_dict=None, metric_dict=None, hparam_domain_discrete=None):
    """The hparams plugin's experiment, session-start and session-end summaries, in that order."""
    from tensorboard.plugins.hparams.api_pb2 import DataType, Experiment, HParamInfo, MetricInfo, MetricName, Status
    from tensorboard.plugins.hparams.metadata import (EXPERIMENT_TAG, PLUGIN_DATA_VERSION, PLUGIN_NAME,
                                                      SESSION_END_INFO_TAG, SESSION_START_INFO_TAG)
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData, SessionEndInfo, SessionStartInfo
    from ..._tensor import Tensor
    for name, value in (("hparam_dict", hparam_dict), ("metric_dict", metric_dict)):
        if not isinstance(value, dict):
            logger.warning(f"parameter: {name} should be a dictionary, nothing logged.")
            raise TypeError(f"parameter: {name} should be a dictionary, nothing logged.")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing logged.")
    for k, v in domains.items():
        if k not in hparam_dict or not isinstance(v, list) or not all(isinstance(d, type(hparam_dict[k])) for d in v):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of same type as "
                            f"hparam_dict[{k}].")
    infos, start = [], SessionStartInfo()
    for k, v in hparam_dict.items():
        if v is None:
            continue
        # bool is an int in Python: as in PyTorch, True and False are logged as the numbers 1 and 0
        if isinstance(v, (int, float)):
            field, kind = "number_value", "DATA_TYPE_FLOAT64"
        elif isinstance(v, str):
            field, kind = "string_value", "DATA_TYPE_STRING"
        elif isinstance(v, Tensor):
            start.hparams[k].number_value = make_np(v)[0]
            infos.append(HParamInfo(name=k, type=DataType.Value("DATA_TYPE_FLOAT64")))
            continue
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
        setattr(start.hparams[k], field, v)
        domain = None
        if k in domains:
            domain = struct_pb2.ListValue(values=[struct_pb2.Value(**{field: d}) for d in domains[k]])
        infos.append(HParamInfo(name=k, type=DataType.Value(kind), domain_discrete=domain))

    def summary(tag, **content):
        data = HParamsPluginData(version=PLUGIN_DATA_VERSION, **content).SerializeToString()
        return Summary(value=[Summary.Value(tag=tag, metadata=_plugin(PLUGIN_NAME, data))])

    experiment = Experiment(hparam_infos=infos, metric_infos=[MetricInfo(name=MetricName(tag=k)) for k in metric_dict])
    return (summary(EXPERIMENT_TAG, experiment=experiment),
            summary(SESSION_START_INFO_TAG, session_start_info=start),
            summary(SESSION_END_INFO_TAG, session_end_info=SessionEndInfo(status=Status.Value("STATUS_SUCCESS"))))


# dtype name -> (TensorProto dtype, the field holding the values); half precision goes as its bit patterns
_TENSOR_FIELDS = {"float16": ("DT_HALF", "half_val"), "bfloat16": ("DT_BFLOAT16", "half_val"),
                  "float32": ("DT_FLOAT", "float_val"), "float64": ("DT_DOUBLE", "double_val"),
                  "int8": ("DT_INT8", "int_val"), "uint8": ("DT_UINT8", "uint32_val"),
                  "int16": ("DT_INT16", "int_val"), "int32": ("DT_INT32", "int_val"),
                  "int64": ("DT_INT64", "int64_val"), "complex64": ("DT_COMPLEX64", "scomplex_val"),
                  "complex128": ("DT_COMPLEX128", "dcomplex_val"), "bool": ("DT_BOOL", "bool_val")}


def tensor_proto(tag, tensor):
    """A whole tensor for the tensor plugin (add_tensor)."""
    if tensor.numel() * tensor.itemsize >= (1 << 31):
        raise ValueError("tensor is bigger than protocol buffer's hard limit of 2GB in size")
    name = str(tensor.dtype).split(".")[-1]
    if name not in _TENSOR_FIELDS:
        raise ValueError(f"{tag} has unsupported tensor dtype {tensor.dtype}")
    kind, field = _TENSOR_FIELDS[name]
    flat = tensor.detach().flatten()
    if field == "half_val":                       # PyTorch stores each value's float32 bit pattern as an int
        values = [struct.unpack("i", struct.pack("f", v))[0] for v in flat.float().tolist()]
    elif kind.startswith("DT_COMPLEX"):
        from ...ops.views import view_as_real
        values = view_as_real(flat).flatten().tolist()
    else:
        values = flat.tolist()
    proto = TensorProto(dtype=kind, tensor_shape=_shape_proto(tensor.shape), **{field: values})
    return Summary(value=[Summary.Value(tag=tag, metadata=_plugin("tensor"), tensor=proto)])


def audio(tag, tensor, sample_rate=44100):
    """A mono 16-bit WAV clip of samples in [-1, 1] (clipped, with a printed warning, as PyTorch)."""
    import wave
    array = make_np(tensor).squeeze()
    if abs(array).max() > 1:
        print("warning: audio amplitude out of range, auto clipped.")
        array = array.clip(-1, 1)
    if array.ndim != 1:
        raise AssertionError("input tensor should be 1 dimensional.")
    array = (array * np.iinfo(np.int16).max).astype("<i2")
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as clip:
            clip.setnchannels(1)
            clip.setsampwidth(2)
            clip.setframerate(sample_rate)
            clip.writeframes(array.data)
        encoded = buffer.getvalue()
    sound = Summary.Audio(sample_rate=sample_rate, num_channels=1, length_frames=array.shape[-1],
                          encoded_audio_string=encoded, content_type="audio/wav")
    return Summary(value=[Summary.Value(tag=tag, audio=sound)])


def custom_scalars(layout):
    """The custom-scalars plugin's layout: {category: {chart title: ["Multiline" | "Margin", tags]}}."""
    from tensorboard.plugins.custom_scalar import layout_pb2
    categories = []
    for category, charts in layout.items():
        protos = []
        for title, (kind, tags) in charts.items():
            if kind == "Margin":
                if len(tags) != 3:
                    raise AssertionError("len(tags) != 3")
                series = layout_pb2.MarginChartContent.Series(value=tags[0], lower=tags[1], upper=tags[2])
                protos.append(layout_pb2.Chart(title=title, margin=layout_pb2.MarginChartContent(series=[series])))
            else:
                protos.append(layout_pb2.Chart(title=title, multiline=layout_pb2.MultilineChartContent(tag=tags)))
        categories.append(layout_pb2.Category(title=category, chart=protos))
    proto = TensorProto(dtype="DT_STRING", string_val=[layout_pb2.Layout(category=categories).SerializeToString()],
                        tensor_shape=TensorShapeProto())
    return Summary(value=[Summary.Value(tag="custom_scalars__config__", tensor=proto,
                                        metadata=_plugin("custom_scalars"))])


def _pr_summary(tag, data, num_thresholds):
    from tensorboard.plugins.pr_curve.plugin_data_pb2 import PrCurvePluginData
    content = PrCurvePluginData(version=0, num_thresholds=num_thresholds).SerializeToString()
    proto = TensorProto(dtype="DT_FLOAT", float_val=data.reshape(-1).tolist(), tensor_shape=_shape_proto(data.shape))
    return Summary(value=[Summary.Value(tag=tag, metadata=_plugin("pr_curves", content), tensor=proto)])


def pr_curve_raw(tag, tp, fp, tn, fn, precision, recall, num_thresholds=127, weights=None):
    return _pr_summary(tag, np.stack((tp, fp, tn, fn, precision, recall)), min(num_thresholds, 127))


def pr_curve(tag, labels, predictions, num_thresholds=127, weights=None):
    num_thresholds = min(num_thresholds, 127)     # the plugin cannot show more (PyTorch's limit too)
    return _pr_summary(tag, compute_curve(labels, predictions, num_thresholds, weights), num_thresholds)


def compute_curve(labels, predictions, num_thresholds=None, weights=None):
    """tensorboard's pr_curve: counts per threshold bucket, accumulated from the top; precision and recall."""
    weights = 1.0 if weights is None else weights
    buckets = np.int32(np.floor(predictions * (num_thresholds - 1)))
    positive = labels.astype(np.float64)
    span = (0, num_thresholds - 1)
    tp = np.histogram(buckets, bins=num_thresholds, range=span, weights=positive * weights)[0][::-1].cumsum()[::-1]
    fp = np.histogram(buckets, bins=num_thresholds, range=span,
                      weights=(1.0 - positive) * weights)[0][::-1].cumsum()[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall))
