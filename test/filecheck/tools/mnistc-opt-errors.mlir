// Bad input gets one message on stderr and a non-zero exit, never a traceback.
// RUN: not mnistc-opt %S/Inputs/malformed.mlir 2>&1 | filecheck %s --check-prefix=PARSE
// RUN: not mnistc-opt %S/Inputs/wrong-channels.mlir 2>&1 | filecheck %s --check-prefix=VERIFY
// RUN: not mnistc-opt %S/Inputs/wrong-channels.mlir -p no-such-pass 2>&1 | filecheck %s --check-prefix=PASS
// RUN: not mnistc-opt %S/Inputs/does-not-exist.mlir 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not mnistc-opt %S/Inputs/nn-level.mlir -t cpp 2>&1 | filecheck %s --check-prefix=TARGET
// RUN: not mnistc-opt %S/Inputs/no-weights-file.mlir -t cpp 2>&1 | filecheck %s --check-prefix=WEIGHTS

// PARSE:      mnistc-opt: error: {{.*}}malformed.mlir:3:1
// PARSE:      Expected '>'
// PARSE-NOT:  Traceback

// VERIFY:     mnistc-opt: error: {{.*}}wrong-channels.mlir:3: weight expects 1 input channels, input has 3
// VERIFY-NEXT:  in: %0 = "nn.conv2d"
// VERIFY-NOT: Traceback

// PASS:       mnistc-opt: error: Unrecognized passes: ['no-such-pass']

// MISSING:    mnistc-opt: error: {{.*}}does-not-exist.mlir

// TARGET:     mnistc-opt: error: cpp target: @forward must be lowered first
// TARGET-NOT: Traceback

// WEIGHTS:     mnistc-opt: error: cpp target: the module reads weights but has no 'nn.weights_file' attribute
