"""The `nn` dialect: neural-network operators on tensors.

This is the level the importers produce and the graph optimisations work on. Every
op is value-semantic (`Pure`), carries its hyper-parameters as properties, and its
typed builder infers the result type, so the verifier and the importer share one
definition of each op's shape rule.

Batch convention: tensors carry the batch dimension, and the importers emit it as 1.
The lowering runs the graph once per sample, so the executable accepts any batch.

Op families. Each family has one file of the same name at every level: here
(`dialects/nn/<family>.py`), in the reference interpreter
(`mnistc/interpreters/nn/<family>.py`), in the lowering to the `cpu` level
(`mnistc/lowering/nn_to_cpu/<family>.py`) and in the C++ kernels
(`kernels/<family>.cpp`, or `kernels/<family>/` for a family with several kernels):

- `weight`: `weight` (a constant tensor of the weight file), `splat` (one value, any shape);
- `conv`: `conv2d`, `conv_transpose2d`;
- `linear`: `linear`;
- `pool`: `max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d`;
- `activation`: `relu`, `sigmoid`, `tanh`, `hardswish`, `hardtanh`, `leaky_relu`, `elu`,
  `gelu`, `mish`, `softplus`, `softsign`, `selu`, `celu`, the element-wise math `exp`,
  `log`, `sqrt`, `rsqrt`, `neg`, `abs`, `pow`, `reciprocal`, and the `Activation` that
  conv2d and linear fuse; `glu`;
- `norm`: `batch_norm`, `lrn`, `layer_norm`, `group_norm`;
- `elementwise`: `add`, `mul`, `prelu`, `sub`, `div`, `max`, `min`, `powf` (binary, with
  broadcasting);
- `shape`: `reshape`, `transpose`, `slice`, `expand`, `concat`, `pad2d`, `dropout` (moving
  elements, no arithmetic);
- `softmax`: `softmax`, `log_softmax`;
- `resample`: `resize2d` (nearest and linear interpolation of H and W);
- `reduce`: `reduce_mean`, `reduce_sum`, `reduce_max`, `reduce_min` over any dims;
- `quant`: `quantize`, `dequantize`, `qconv2d`, `qlinear` (int8; `max_pool2d` and the
  views of `shape` take int8 too).


- `matmul`: `matmul` (both operands at run time, batch dims broadcasting), `attention`
  (scaled dot-product attention, fused).


- `recurrent`: `lstm`, `gru` (one layer over a whole sequence, one or both directions).

`base.py` holds what the families share (the tensor type, property builders, the
verifier's shape checks); `mnistc.dialects.shapes` reads and counts shapes for every level.
"""

from xdsl.ir import Dialect

from mnistc.dialects.nn import (
    activation,
    conv,
    elementwise,
    linear,
    matmul,
    norm,
    pool,
    quant,
    recurrent,
    reduce,
    resample,
    shape,
    softmax,
    weight,
)
from mnistc.dialects.nn.activation import *  # noqa: F403
from mnistc.dialects.nn.base import (
    FloatTensor,
    Int8Tensor,
    Int32Tensor,
    element_type_of,
    pair,
    tensor,
    window_output_size,
)
from mnistc.dialects.nn.conv import *  # noqa: F403
from mnistc.dialects.nn.elementwise import *  # noqa: F403
from mnistc.dialects.nn.linear import *  # noqa: F403
from mnistc.dialects.nn.norm import *  # noqa: F403
from mnistc.dialects.nn.pool import *  # noqa: F403
from mnistc.dialects.nn.quant import *  # noqa: F403


from mnistc.dialects.nn.recurrent import *  # noqa: F403
from mnistc.dialects.nn.reduce import *  # noqa: F403
from mnistc.dialects.nn.resample import *  # noqa: F403
from mnistc.dialects.nn.shape import *  # noqa: F403
from mnistc.dialects.nn.softmax import *  # noqa: F403
from mnistc.dialects.nn.weight import *  # noqa: F403
from mnistc.dialects.nn.matmul import *  # noqa: F403
from mnistc.dialects.shapes import shape_of

FAMILY_MODULES = (
    weight, conv, linear, pool, activation, norm, elementwise, shape, softmax,
    resample, reduce,
    quant,
    matmul,
    recurrent,
)  # fmt: skip
"""One module per family of the list above; each exports its ops and helpers (`__all__`)
and lists its ops in `OPS`."""
FAMILIES = tuple(module.__name__.rpartition(".")[2] for module in FAMILY_MODULES)
"""The module names at every level (test_families.py checks them)."""

NN = Dialect("nn", [op for module in FAMILY_MODULES for op in module.OPS], [])
