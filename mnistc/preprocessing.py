"""What a model expects its pixels to go through: x -> (x * scale - mean) / std.

Declared at compile time (`mnistc compile --scale/--mean/--std/--channel-order`, or a
`MODEL.preprocessing.json` file beside the model, as the bundled model has) and recorded
in the artifact: the IR carries it as the module attribute `mnistc.preprocessing`, and the
executable and library return it from `mnistc_model_preprocessing()` as JSON. `mnistc
run` and `CompiledModel` apply it to pixel data (images, idx files, integer arrays); float
data is taken as already prepared. Size and grayscale/RGB follow the model's input shape.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mnistc.errors import MnistcError

ATTRIBUTE = "mnistc.preprocessing"
SIDECAR_SUFFIX = ".preprocessing.json"
CHANNEL_ORDERS = ("rgb", "bgr")


@dataclass(frozen=True)
class Preprocessing:
    """Per-channel mean and std (one value for all channels, or one per channel); the
    channel order images are given to the model in."""

    scale: float = 1.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    channel_order: str = "rgb"

    def __post_init__(self) -> None:
        values = (self.scale, *self.mean, *self.std)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise MnistcError(f"preprocessing: scale, mean and std must be finite numbers, got {self}")
        if not self.mean or not self.std or any(s == 0 for s in self.std):
            raise MnistcError("preprocessing: mean and std need a value each, and std no zero")
        if self.channel_order not in CHANNEL_ORDERS:
            raise MnistcError(f"preprocessing: channel order must be rgb or bgr, got {self.channel_order!r}")

    def check_channels(self, channels: int) -> None:
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, channels):
                raise MnistcError(f"preprocessing: {len(values)} {name} values; the model has {channels} channels")

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """Float32 [N, C, ...] from raw values [N, C, ...] (any numeric dtype)."""
        channels = pixels.shape[1]
        self.check_channels(channels)
        if self.channel_order == "bgr" and channels == 3:
            pixels = pixels[:, ::-1]
        out = pixels.astype(np.float32)
        if self.scale != 1.0:
            out *= np.float32(self.scale)
        per_channel = (1, channels, *[1] * (out.ndim - 2))
        if any(self.mean):
            out -= np.asarray(self.mean, np.float32).reshape(per_channel if len(self.mean) > 1 else ())
        if any(s != 1.0 for s in self.std):
            out /= np.asarray(self.std, np.float32).reshape(per_channel if len(self.std) > 1 else ())
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, source: str = "preprocessing") -> Preprocessing:
        try:
            fields = json.loads(text)
            if not isinstance(fields, dict) or set(fields) - {"scale", "mean", "std", "channel_order"}:
                raise ValueError("expected an object with scale, mean, std, channel_order")
            for key in ("mean", "std"):
                if key in fields:
                    fields[key] = tuple(fields[key]) if isinstance(fields[key], list) else (fields[key],)
            return cls(**fields)
        except (ValueError, TypeError) as e:
            raise MnistcError(f"{source}: not a valid preprocessing declaration ({e})") from None


PIXELS_OVER_255 = Preprocessing(scale=1 / 255)
"""The usual convention, and `mnistc run`'s default for pixel data without a declaration."""


def declared_beside(model: str | Path) -> Preprocessing | None:
    """The `MODEL.preprocessing.json` beside a model file, if there is one."""
    sidecar = Path(model).with_suffix(SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return None
    try:
        text = sidecar.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise MnistcError(f"{sidecar}: cannot read it ({e})") from None
    return Preprocessing.from_json(text, str(sidecar))
