// The weight file: a = [1, 2, 3, 4] at 0, s = [10] at 64.
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; b = bytearray(128); b[0:16] = np.array([1, 2, 3, 4], '<f4').tobytes(); b[64:68] = np.array([10], '<f4').tobytes(); open('c.weights.bin', 'wb').write(b)"
// RUN: mnistc-opt %s -p fold-constants,dce | filecheck %s
// RUN: %python -c "import numpy as np; print(np.fromfile('c.weights.bin', '<f4')[32:36])" | filecheck %s --check-prefix=DATA

// mul(a, s) and its reshape are computed at compile time; the add on the input stays.
// CHECK:      %[[K:.*]] = nn.weight "a+s|mul|reshape" offset {{[0-9]+}} : tensor<1x4xf32>
// CHECK-NEXT: %[[R:.*]] = nn.add %{{.*}}, %[[K]]
// CHECK-NEXT: func.return %[[R]]
// DATA: [10. 20. 30. 40.]

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
