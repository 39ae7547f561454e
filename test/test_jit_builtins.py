"""conftest's guard against torch.jit's builtin table going stale: op objects that
torch.library frees (an overload added, a library destroyed) must not leave ids that a new
object, such as a Conv2d's padding tuple, is then mistaken for when a model is scripted."""

from __future__ import annotations

import torch
from torch.jit._builtins import _find_builtin

TUPLES = 20000
"""Fresh 4-tuples allocated after the frees; without the guard one lands on a freed op's
address within the first hundred or so."""


def free_registered_ops() -> list[int]:
    """The ids of op objects that torch.library replaces or drops after torch.ops has
    registered them in the builtin table."""
    library = torch.library.Library("mnistc_test_jit_ids", "DEF")
    library.define("refreshed(Tensor x) -> Tensor")
    library.define("dropped(Tensor x) -> Tensor")
    namespace = torch.ops.mnistc_test_jit_ids
    ids = [id(namespace.refreshed._op), id(namespace.dropped._op)]
    library.define("refreshed.overload(Tensor x, int n) -> Tensor")  # replaces the packet's op
    library._destroy()  # drops the packets
    return ids


def test_no_new_object_is_taken_for_a_freed_builtin():
    ids = free_registered_ops()
    kept = [tuple(range(n, n + 4)) for n in range(TUPLES)]
    mistaken = [t for t in kept if _find_builtin(t) is not None]
    assert not mistaken, f"{len(mistaken)} fresh tuples taken for builtins (freed ids {ids})"
    conv = torch.nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect")
    x = torch.randn(1, 1, 5, 5)
    torch.testing.assert_close(torch.jit.script(conv)(x), conv(x))
