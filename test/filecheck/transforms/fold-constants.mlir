// The weight file: a = [1, 2, 3, 4] at 0, s = [10] at 64.
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; b = bytearray(128); b[0:16] = np.array([1, 2, 3, 4], '<f4').tobytes(); b[64:68] = np.array([10], '<f4').tobytes(); open('c.weights.bin', 'wb').write(b)"
// RUN: mnistc-opt %s -p fold-constants,dce --weights-out out.weights.bin | filecheck %s
// RUN: %python -c "import numpy as np, os; print(np.fromfile('out.weights.bin', '<f4')[32:36], os.path.getsize('c.weights.bin'))" | filecheck %s --check-prefix=DATA
// RUN: not mnistc-opt %s -p fold-constants 2>&1 | filecheck %s --check-prefix=REFUSE

// mul(a, s) and its reshape are computed at compile time; the add on the input stays.
// The new weights go to --weights-out, which the output names; the input stays as it was.
// CHECK:      builtin.module attributes {nn.weights_file = "out.weights.bin"}
// CHECK:      %[[K:.*]] = nn.weight "a+s|mul|reshape" offset {{[0-9]+}} : tensor<1x4xf32>
// CHECK-NEXT: %[[R:.*]] = nn.add %{{.*}}, %[[K]]
// CHECK-NEXT: func.return %[[R]]
// DATA: [10. 20. 30. 40.] 128{{$}}

// Without --weights-out, a pass that adds weights is refused, and no IR is printed.
// REFUSE-NOT: builtin.module
// REFUSE:     mnistc-opt: error: the passes added weights to 'c.weights.bin', which mnistc-opt does not change: give --weights-out FILE to write them there
// REFUSE-NOT: builtin.module

builtin.module attributes {nn.weights_file = "c.weights.bin"} {
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
    %a = nn.weight "a" offset 0 : tensor<4xf32>
    %s = nn.weight "s" offset 64 : tensor<1xf32>
    %0 = nn.mul %a, %s : tensor<4xf32>, tensor<1xf32> -> tensor<4xf32>
    %1 = nn.reshape %0 : tensor<4xf32> -> tensor<1x4xf32>
    %2 = nn.add %x, %1 : tensor<1x4xf32>, tensor<1x4xf32> -> tensor<1x4xf32>
    func.return %2 : tensor<1x4xf32>
  }
}
