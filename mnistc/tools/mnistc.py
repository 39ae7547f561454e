"""mnistc: compile, verify, train and export models. A thin CLI over `mnistc.driver`."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from mnistc import __version__
from mnistc.errors import MnistcError
from mnistc.tools.errors import exit_on_user_error


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a shape like 1,28,28") from None
    if not shape or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"'{text}': dimensions must be positive")
    return shape


class InputShapes(argparse.Action):
    """`--input-shape`, given once per input or once for all: `C,H,W` (a model of one
    input), `3,8,8;8` or the option repeated (in input order), or `NAME=C,H,W` (by
    input name). The result is what `CompileOptions.sample_shape` takes."""

    def __call__(self, parser, namespace, text, option_string=None) -> None:
        previous = getattr(namespace, self.dest)
        named = [part.partition("=") for part in text.split(";")]
        if all(sep for _, sep, _ in named):
            if previous is not None and not isinstance(previous, dict):
                parser.error(f"--input-shape {text}: give every input's shape by name, or none")
            shapes = dict(previous or {})
            for name, _, shape in named:
                shapes[name] = self._shape(parser, shape)
        elif any(sep for _, sep, _ in named) or isinstance(previous, dict):
            parser.error(f"--input-shape {text}: give every input's shape by name, or none")
        else:
            given = [self._shape(parser, part) for part in text.split(";")]
            before = [] if previous is None else [previous] if isinstance(previous[0], int) else list(previous)
            shapes = before + given
            shapes = shapes[0] if len(shapes) == 1 else shapes
        setattr(namespace, self.dest, shapes)

    @staticmethod
    def _shape(parser, text: str) -> tuple[int, ...]:
        try:
            return parse_shape(text)
        except argparse.ArgumentTypeError as e:
            parser.error(f"--input-shape: {e}")


INPUT_SHAPE_HELP = (
    "shape of one input sample (default: traced shape or 1,28,28); for a model of several "
    "inputs, one per input: NAME=C,H,W (repeated), or in order 3,8,8;8"
)


def default_model() -> Path:
    from mnistc.models import BUNDLED_MODEL

    return BUNDLED_MODEL


def _compile_options(args: argparse.Namespace):
    from mnistc.driver import CompileOptions

    return CompileOptions(
        sample_shape=args.input_shape,
        optimise=not args.O0,
        winograd=not args.no_winograd,
        debug=args.debug,
        kernel_dir=Path(args.kernel_dir) if args.kernel_dir else CompileOptions.kernel_dir,
        target_cpu=args.target_cpu,
        keep_build=_keep_build_dir(args),
        shared=getattr(args, "shared", False),
        static=getattr(args, "static", False),
        preprocessing=_preprocessing(args) if hasattr(args, "scale") else None,
        **_quantize_options(args),
    )


def _quantize_options(args: argparse.Namespace) -> dict:
    """CompileOptions' int8 fields from `--quantize`, `--calibration...`, `--fp32-layers`."""
    return dict(
        quantize=args.quantize,
        calibration=args.calibration,
        calibration_method=args.calibration_method,
        calibration_samples=args.calibration_samples,
        fp32_layers=tuple(filter(None, (args.fp32_layers or "").split(","))),
    )


def _keep_build_dir(args: argparse.Namespace) -> Path | None:
    """`--build-dir DIR`, else with `--keep-build` OUT.build."""
    if args.build_dir:
        return Path(args.build_dir)
    if args.keep_build:
        return Path(f"{getattr(args, 'output', None) or 'mnistc'}.build")
    return None


def cmd_compile(args: argparse.Namespace) -> int:
    from mnistc.driver import compile_model, compile_to_stage

    model = Path(args.model) if args.model else default_model()
    options = _compile_options(args)
    if args.emit:
        output = Path(args.output) if args.output else None
        weights_path = _emitted_weights_path(model, output)
        text, weights = compile_to_stage(model, args.emit, options, str(weights_path))
        _emit(args.emit, text, weights, output)
        return 0
    if not args.output:
        raise MnistcError("missing -o OUT (or use --emit nn|loops|cpp to print a stage)")
    result = compile_model(model, args.output, options)
    if args.quiet:
        return 0
    memory = result.memory
    print(
        f"mnistc: wrote {result.output} (weights {result.weight_bytes} bytes, "
        f"arena {result.arena_bytes} bytes, unshared buffers {result.unshared_bytes} bytes, "
        f"kernel scratch {memory.scratch} bytes per thread; peak memory {memory.peak(1)} "
        f"bytes on one thread, {memory.arena + memory.scratch} more per further thread)",
        file=sys.stderr,
    )
    if result.imported_whole is not None:
        print(
            "mnistc: note: imported whole, as its input shapes are fixed and its graph does not "
            f"follow dimension 0 as a batch ({result.imported_whole}): the model runs exactly "
            "one input of each fixed shape",
            file=sys.stderr,
        )
    if options.keep_build:
        print(f"mnistc: build directory kept in {options.keep_build}", file=sys.stderr)
    return 0


def _emitted_weights_path(model: Path, output: Path | None) -> Path:
    """Beside the file the output lands in (through symlinks: `-o /dev/stdout` redirected
    to `x.mlir` gives `x.weights.bin`, not a file in /dev), named after it; for stdout or
    a device, in the working directory, named after the model."""
    from mnistc.outputs import writes_through

    if output is None or writes_through(output):
        return Path(f"{model.stem}.weights.bin")
    target = output.resolve()
    return Path(os.path.relpath(target.parent / f"{target.stem}.weights.bin"))  # as the IR names it


def _emit(stage: str, text: str, weights, output: Path | None) -> None:
    """Print or write a stage, and write the weight file it names."""
    from mnistc.outputs import write_text

    weights.save(weights.name)
    if output is None:
        sys.stdout.write(text)
    else:
        write_text(output, text)
    print(f"mnistc: the {stage} stage references the weight file {weights.name}", file=sys.stderr)


def parse_floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of numbers") from None


def cmd_run(args: argparse.Namespace) -> int:
    from mnistc.run import run

    run(args.target, args.inputs, args.top, args.labels, args.output, _preprocessing(args))
    return 0


def _add_preprocessing_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--scale", type=float, help=f"{what}: multiply raw pixels by this first (e.g. 0.00392156862745098 for / 255)")
    parser.add_argument("--mean", type=parse_floats, help=f"{what}: then subtract this (one value, or one per channel)")
    parser.add_argument("--std", type=parse_floats, help=f"{what}: then divide by this (one value, or one per channel)")
    parser.add_argument("--channel-order", choices=("rgb", "bgr"), help=f"{what}: of 3-channel images (default rgb)")


def _preprocessing(args: argparse.Namespace):
    """The Preprocessing the flags declare, or None when no flag is given."""
    from mnistc.preprocessing import Preprocessing

    flags = {"scale": args.scale, "mean": args.mean, "std": args.std, "channel_order": args.channel_order}
    given = {k: v for k, v in flags.items() if v is not None}
    return Preprocessing(**given) if given else None


def cmd_report(args: argparse.Namespace) -> int:
    from mnistc.outputs import write_text
    from mnistc.report import build_report

    if args.runs < 1:
        raise MnistcError("--runs must be at least 1")
    model = Path(args.model) if args.model else default_model()
    write_text(args.output, build_report(model, args.input_shape, args.runs))
    if not args.quiet:
        print(f"mnistc: wrote {args.output}", file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from mnistc.verify import verify_model

    model = Path(args.model) if args.model else default_model()
    if args.per_pass:
        from mnistc.verify import check_passes

        per_pass = check_passes(model, args.input_shape, atol=args.atol, rtol=args.rtol)
        print(per_pass.summary())
        if not per_pass.passed:
            return 1
    report = verify_model(
        model,
        _compile_options(args),
        data_dir=Path(args.data) if args.data else None,
        batches=args.batches,
        atol=args.atol,
        rtol=args.rtol,
    )
    print(report.summary())
    return 0 if report.passed else 1


def cmd_export_model(args: argparse.Namespace) -> int:
    import shutil

    from mnistc.models.mnist_cnn import MnistCNN, export

    if args.untrained:
        export(MnistCNN(), args.output)
    else:
        shutil.copyfile(default_model(), args.output)
    print(f"mnistc: wrote {args.output}", file=sys.stderr)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from mnistc.models.mnist_cnn import export, train

    model = train(args.data, epochs=args.epochs, seed=args.seed)
    export(model, args.output)
    print(f"mnistc: wrote {args.output}", file=sys.stderr)
    return 0


def cmd_conformance(args: argparse.Namespace) -> int:
    from mnistc.conformance import SUITES, onnx_test_data_dir, run_suite

    if onnx_test_data_dir() is None:
        raise MnistcError("the onnx package (with its test data) is not installed: pip install onnx")
    results = [r for suite in (args.suite or SUITES) for r in run_suite(suite)]
    return 1 if any(r.status == "fail" for r in results) else 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.networks is not None or args.quick:
        from mnistc.bench_networks import run_network_bench

        if args.model:
            raise MnistcError("give a model file or --networks, not both")
        if args.quantize or args.calibration:
            raise MnistcError("--quantize and --calibration go with a model file, not --networks")
        rounds = 11 if args.rounds is None else args.rounds
        run_network_bench(
            args.networks or "all", args.configs, rounds, args.frontend, args.governor, args.quick
        )
        return 0
    if args.frontend != "torchscript" or args.governor:
        raise MnistcError("--frontend and --governor go with --networks")
    from mnistc.bench import run_bench

    rounds = 15 if args.rounds is None else args.rounds
    run_bench(Path(args.model) if args.model else None, rounds, args.configs,
              int8=_quantize_options(args))
    return 0


def parse_size(text: str) -> int:
    """Bytes from `500M`, `2G`, `100K`, `1.5GiB` or a plain number."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    if not match:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 500M or 2G")
    number, unit = match.groups()
    return int(float(number) * (1 << (10 * " KMGT".index(unit or " "))))


def parse_days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of days") from None
    if not days >= 0:
        raise argparse.ArgumentTypeError(f"'{text}': a number of days cannot be negative")
    return days


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):.1f} MB"


def cmd_cache(args: argparse.Namespace) -> int:
    from mnistc import cache

    if args.action == "info":
        print(f"cache directory: {cache.cache_dir()}")
        for c in cache.CACHES:
            entries = c.entries()
            print(f"{c.name}s: {len(entries)} entries, {_megabytes(sum(e.size for e in entries))}"
                  f" (bound {_megabytes(c.max_bytes)}) in {c.directory()}")  # fmt: skip
        return 0
    if args.action == "clear":
        removed = cache.clear()
    else:
        older_than = None if args.older_than is None else args.older_than * 86400
        removed = cache.prune(args.max_size, older_than)
    print(f"mnistc: removed {len(removed)} entries ({_megabytes(sum(e.size for e in removed))})",
          file=sys.stderr)  # fmt: skip
    return 0


def _add_compile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?",
                        help="model file: TorchScript (.pt), torch.export (.pt2) or ONNX (.onnx) "
                             "(default: the bundled MNIST CNN)")
    parser.add_argument("--input-shape", action=InputShapes, metavar="C,H,W", help=INPUT_SHAPE_HELP)
    parser.add_argument("-O0", action="store_true", help="no optimisation passes, no memory plan")
    parser.add_argument("--no-winograd", action="store_true",
                        help="direct kernels for 3x3 convolutions (tighter rounding, slower)")
    parser.add_argument("--debug", action="store_true",
                        help="build with -O0 -g, sanitizers and assertions")
    parser.add_argument("--kernel-dir", help="build against the kernels in this directory")
    parser.add_argument("--target-cpu", default="native",
                        help="g++ -march value (default: native, the build machine)")
    parser.add_argument("--keep-build", action="store_true",
                        help="keep the build directory (C++, IR per stage, g++ commands) in "
                             "OUT.build and print where it is")
    parser.add_argument("--build-dir", metavar="DIR",
                        help="keep the build directory in DIR instead (implies --keep-build)")
    _add_quantize_arguments(parser)
    _add_progress_arguments(parser)


def _add_quantize_arguments(parser: argparse.ArgumentParser) -> None:
    from mnistc.calibration import DEFAULT_METHOD, DEFAULT_SAMPLES, METHODS

    parser.add_argument("--quantize", choices=("int8",),
                        help="post-training quantization of conv2d and linear layers (needs "
                             "--calibration)")
    parser.add_argument("--calibration", metavar="DATA",
                        help="calibration samples: a .npy or raw float32 file, idx files, images, "
                             "or the MNIST directory (its images 0-7999)")
    parser.add_argument("--calibration-method", choices=METHODS, default=DEFAULT_METHOD,
                        help=f"how activation ranges are chosen (default {DEFAULT_METHOD})")
    parser.add_argument("--calibration-samples", type=int, default=DEFAULT_SAMPLES, metavar="N",
                        help=f"use at most N calibration samples (default {DEFAULT_SAMPLES})")
    parser.add_argument("--fp32-layers", metavar="LIST",
                        help="layers kept in float32, by module path (e.g. conv2,fc2)")


def _add_progress_arguments(parser: argparse.ArgumentParser) -> None:
    volume = parser.add_mutually_exclusive_group()
    volume.add_argument("-v", "--verbose", action="store_true",
                        help="print the time of every step (import, each pass, each g++ run)")
    volume.add_argument("-q", "--quiet", action="store_true",
                        help="print nothing but errors (default: steps that take over a second)")


def _progress_mode(args: argparse.Namespace) -> str:
    if getattr(args, "quiet", False):
        return "quiet"
    return "verbose" if getattr(args, "verbose", False) else "normal"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnistc", description="Compile PyTorch models into native executables."
    )
    parser.add_argument("--version", action="version", version=f"mnistc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    compile_ = commands.add_parser("compile", help="compile a model into an executable")
    _add_compile_arguments(compile_)
    compile_.add_argument("-o", "--output", help="the executable (or library) to write")
    compile_.add_argument("--shared", action="store_true",
                          help="build a shared library exporting mnistc_model_run (C ABI, "
                               "header written beside it as OUT with suffix .h)")
    _add_preprocessing_arguments(
        compile_, "preprocessing recorded in the artifact, which `mnistc run` and CompiledModel "
                  "apply to raw pixels (default: MODEL.preprocessing.json beside the model)")  # fmt: skip
    compile_.add_argument("--static", action="store_true",
                          help="an executable needing no shared library but libc: OpenMP's "
                               "runtime linked in (by default it needs libgomp.so.1)")
    compile_.add_argument("--emit", choices=("nn", "loops", "cpp"),
                          help="stop after this stage and print it (to -o if given)")
    compile_.set_defaults(run=cmd_compile)

    run = commands.add_parser(
        "run", help="classify inputs (images, .npy, MNIST idx, raw float32) and print the top classes"
    )
    run.add_argument("target", help="a model file (.pt, .pt2, .onnx), or a library or executable "
                                    "built by `mnistc compile`")
    run.add_argument("inputs", nargs="+", help="PNG/JPEG images (needs Pillow), .npy arrays, MNIST "
                                               "idx files, raw float32 files, or directories of them")
    run.add_argument("--top", type=int, default=3, help="classes printed per sample (default 3)")
    run.add_argument("--labels", help="text file naming the classes, one per line")
    run.add_argument("-o", "--output", help="write every output row to this .npy file")
    _add_preprocessing_arguments(
        run, "instead of what the model declares (which applies to images, idx files and "
             "integer arrays; float data is taken as it is), for every input")  # fmt: skip
    _add_progress_arguments(run)
    run.set_defaults(run=cmd_run)

    report = commands.add_parser(
        "report", help="one self-contained HTML page: graph, memory plan, profile, compile times"
    )
    report.add_argument("model", nargs="?", help="model file (default: the bundled MNIST CNN)")
    report.add_argument("-o", "--output", required=True, help="the HTML file to write")
    report.add_argument("--input-shape", action=InputShapes, metavar="C,H,W", help=INPUT_SHAPE_HELP)
    report.add_argument("--runs", type=int, default=20, help="profiled inferences (default 20)")
    _add_progress_arguments(report)
    report.set_defaults(run=cmd_report)

    verify = commands.add_parser("verify", help="compile and compare with PyTorch")
    _add_compile_arguments(verify)
    verify.add_argument("--data", help="MNIST directory: also check the held-out images")
    verify.add_argument("--batches", type=int, default=3, help="random batches to check")
    verify.add_argument("--per-pass", action="store_true",
                        help="also run the nn IR in the reference interpreter after import and "
                             "after each pass; report the first pass that changes the outputs")
    verify.add_argument("--atol", type=float, default=1e-4,
                        help="absolute tolerance: pass when |mnistc - torch| <= atol + rtol * |torch| "
                             "(default 1e-4)")
    verify.add_argument("--rtol", type=float, default=1e-4,
                        help="relative tolerance, as in --atol (default 1e-4)")
    verify.set_defaults(run=cmd_verify)

    export = commands.add_parser("export-model", help="write the default model as TorchScript")
    export.add_argument("-o", "--output", default="model.pt")
    export.add_argument("--untrained", action="store_true", help="freshly initialised weights")
    export.set_defaults(run=cmd_export_model)

    bench = commands.add_parser(
        "bench", help="time the compiled model against ONNX Runtime and PyTorch (by hand)"
    )
    bench.add_argument("model", nargs="?",
                       help="model file: TorchScript, torch.export (.pt2) or ONNX (.onnx) "
                            "(default: the bundled model)")
    bench.add_argument("--rounds", type=int, help="interleaved timing rounds (default 15; 11 with --networks)")
    bench.add_argument("--networks", metavar="LIST",
                       help="torchvision networks against ONNX Runtime instead: comma-separated "
                            "names or all (needs torchvision and onnxruntime)")
    bench.add_argument("--configs", metavar="LIST", default="all",
                       help="comma-separated, or all: for a model b1-t1, b1-t2, b64-t1, b64-t2 "
                            "(batch, threads); with --networks 224-b1-t1, 224-b1-t2, 224-b16-t2, "
                            "64-b1-t1 (input size, batch, threads)")
    bench.add_argument("--frontend", choices=("torchscript", "export", "onnx"), default="torchscript",
                       help="with --networks: the export mnistc compiles")
    bench.add_argument("--governor", action="store_true",
                       help="with --networks: leave mnistc's thread governor on (default "
                            "OMP_DYNAMIC=false: every run on the configured threads)")
    bench.add_argument("--quick", action="store_true",
                       help="--networks on one small network at 3x64x64, batch 1, 1 thread, 3 rounds")
    _add_quantize_arguments(bench)
    bench.set_defaults(run=cmd_bench)

    conformance = commands.add_parser(
        "conformance", help="compile onnx's test models and compare with their outputs"
    )
    conformance.add_argument("--suite", action="append", choices=("pytorch-converted", "pytorch-operator", "light"))
    conformance.set_defaults(run=cmd_conformance)

    cache = commands.add_parser(
        "cache", help="show, clear or prune the kernel and import caches ($MNISTC_CACHE_DIR)"
    )
    actions = cache.add_subparsers(dest="action", required=True)
    actions.add_parser("info", help="where the caches are, their entries and sizes")
    actions.add_parser("clear", help="remove every entry")
    prune = actions.add_parser(
        "prune", help="remove the least recently used entries (with no option: down to each "
                      "cache's own bound)")  # fmt: skip
    prune.add_argument("--max-size", type=parse_size, metavar="SIZE",
                       help="keep at most SIZE (like 500M, 2G) over both caches")
    prune.add_argument("--older-than", type=parse_days, metavar="DAYS",
                       help="remove entries unused for more than DAYS days")
    cache.set_defaults(run=cmd_cache)

    train = commands.add_parser("train", help="train the default model on MNIST images 0-7999")
    train.add_argument("--data", required=True, help="directory with MNIST's idx files")
    train.add_argument("-o", "--output", default="mnist_cnn.pt")
    train.add_argument("--epochs", type=int, default=12)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from mnistc.progress import reporting

    args = build_parser().parse_args(argv)
    with exit_on_user_error("mnistc"), reporting(_progress_mode(args)):
        return args.run(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
