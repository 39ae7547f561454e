"""mnistc-opt: xdsl-opt with mnistc's dialects, passes and targets.

    mnistc-opt model.mlir -p 'remove-dropout,fuse-activation,dce,convert-nn-to-cpu,plan-memory' -t cpp

Passes read the weight file that the module's `nn.weights_file` names (relative to the
working directory) into the context's weight store. Passes that add weights (folding,
packing) extend that copy; `--weights-out FILE` writes it to FILE and points the printed
IR there. The input weight file is never written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from xdsl.dialects.builtin import ModuleOp
from xdsl.xdsl_opt_main import xDSLOptMain

from mnistc import __version__, parsing  # noqa: F401  (linear-time string literals)
from mnistc import weights as weight_files
from mnistc.context import MnistcContext
from mnistc.errors import MnistcError
from mnistc.registry import get_all_dialects, get_all_passes, get_all_targets
from mnistc.tools.errors import exit_on_user_error


class MnistcOptMain(xDSLOptMain):
    version_format = f"mnistc-opt {__version__} (xDSL {{xdsl_version}})"

    def __init__(self, description: str, args: Sequence[str] | None = None) -> None:
        super().__init__(description=description, args=args)
        self.ctx = MnistcContext.extending(self.ctx)
        self.weights_source: str | None = None
        """The weight file whose updated copy went to --weights-out (one per run)."""

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        arg_parser.add_argument(
            "--weights-out",
            metavar="FILE",
            help="write the module's weights, with any that the passes added, to FILE and "
            "name FILE as the module's nn.weights_file in the output (required when a pass "
            "adds weights: the input weight file is never changed)",
        )

    def register_all_dialects(self):
        super().register_all_dialects()
        for name, factory in get_all_dialects().items():
            if name not in self.ctx.registered_dialect_names:
                self.ctx.register_dialect(name, factory)

    def register_all_passes(self):
        super().register_all_passes()
        for name, factory in get_all_passes().items():
            self.register_pass(name, factory)

    def register_all_targets(self):
        super().register_all_targets()
        self.available_targets.update(get_all_targets())

    def output_resulting_program(self, prog: ModuleOp) -> str:
        """The output, after the module's weights went where --weights-out says; the
        weights are written only once the output is complete."""
        weights = self.weights_to_write(prog)
        if weights is not None:
            weight_files.set_weights_name(prog, self.args.weights_out)
            self.ctx.weights.add(self.args.weights_out, weights)
        text = super().output_resulting_program(prog)
        if weights is not None:
            try:
                weights.save(self.args.weights_out)
            except OSError as e:
                raise MnistcError(
                    f"cannot write weights to {self.args.weights_out}: {e.strerror}"
                ) from None
        return text

    def weights_to_write(self, prog: ModuleOp) -> weight_files.WeightFile | None:
        """The module's weights if --weights-out asks for them; a refusal if passes added
        weights that would otherwise be lost."""
        attr = prog.attributes.get(weight_files.ATTRIBUTE)
        name = weight_files.weights_name(prog) if attr is not None else None
        if self.args.weights_out is None:
            added = self.ctx.weights.modified()
            if added:
                raise MnistcError(
                    f"the passes added weights to '{next(iter(added))}', which mnistc-opt "
                    "does not change: give --weights-out FILE to write them there"
                )
            return None
        if name is None:
            return None
        if self.weights_source not in (None, name):
            raise MnistcError(
                f"--weights-out takes the weights of one file, but the input names both "
                f"'{self.weights_source}' and '{name}'"
            )
        self.weights_source = name
        return self.ctx.weights.get(name)


def main(argv: Sequence[str] | None = None) -> int:
    with exit_on_user_error("mnistc-opt"):
        tool = MnistcOptMain(description="mnistc's modular optimiser driver", args=argv)
    with exit_on_user_error("mnistc-opt", tool.args.input_file):
        tool.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
