"""mnistc-opt: xdsl-opt with mnistc's dialects, passes and targets.

    mnistc-opt model.mlir -p 'remove-dropout,fuse-activation,dce,convert-nn-to-cpu,plan-memory' -t cpp
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from xdsl.xdsl_opt_main import xDSLOptMain

from mnistc import __version__, parsing  # noqa: F401  (linear-time string literals)
from mnistc.registry import get_all_dialects, get_all_passes, get_all_targets
from mnistc.tools.errors import exit_on_user_error


class MnistcOptMain(xDSLOptMain):
    version_format = f"mnistc-opt {__version__} (xDSL {{xdsl_version}})"

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


def main(argv: Sequence[str] | None = None) -> int:
    with exit_on_user_error("mnistc-opt"):
        tool = MnistcOptMain(description="mnistc's modular optimiser driver", args=argv)
    with exit_on_user_error("mnistc-opt", tool.args.input_file):
        tool.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
