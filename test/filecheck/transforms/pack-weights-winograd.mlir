// The weight file holds an [8,8,3,3] conv weight of ones at offset 0.
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; np.ones(576, '<f4').tofile('p.weights.bin')"
// RUN: mnistc-opt %s -p pack-weights --weights-out out.weights.bin | filecheck %s
// RUN: %python -c "import numpy as np; w = np.fromfile('out.weights.bin', '<f4'); print(w.size, w[576], w[576 + 8])" | filecheck %s --check-prefix=DATA
// RUN: mnistc-opt %s -p 'pack-weights{winograd=false}' --weights-out direct.weights.bin | filecheck %s --check-prefix=DIRECT

// 3x3, stride 1, 8 channels in and out: Winograd F(4x4, 3x3). The weight becomes
// U = G g G^T, 36 positions x 16 output channels (8 real, 8 zero) x 8 input channels,
// and the params keep only the geometry that the kernel reads.
// CHECK:      %[[U:.*]] = cpu.weight "w|conv2d_winograd" offset 2304 : memref<4608xf32>
// CHECK:      cpu.call @conv2d_winograd(%{{.*}}, %[[U]], %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 8, H = 6, W = 6, K = 8, OH = 4, OW = 4, pad_h = 0, pad_w = 0, pool = 0, activation = 1, alpha = 0.0, beta = 0.0)
// Position (0, 0) of a weight of ones is g[0][0] / 16; output channels 8-15 are padding.
// DATA: 5184 0.0625 0.0{{$}}

// Winograd turned off: the direct stride-1 kernel.
// DIRECT: cpu.call @conv2d_packed(
// DIRECT-NOT: conv2d_winograd

builtin.module attributes {nn.weights_file = "p.weights.bin"} {
  func.func @forward(%input: memref<?x8x6x6xf32>, %output: memref<?x8x4x4xf32>) {
    %c0 = arith.constant 0 : index
    %w = cpu.weight "w" offset 0 : memref<8x8x3x3xf32>
    %x = cpu.sample %input[%c0] : memref<?x8x6x6xf32> -> memref<1x8x6x6xf32>
    %y = cpu.sample %output[%c0] : memref<?x8x4x4xf32> -> memref<1x8x4x4xf32>
    %b = cpu.null : memref<8xf32>
    %r = cpu.null : memref<1x8x4x4xf32>
    cpu.call @conv2d(%x, %w, %b, %r) outs(%y) params(C = 8, H = 6, W = 6, K = 8, OH = 4, OW = 4, KH = 3, KW = 3, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1, activation = 1, alpha = 0.0, beta = 0.0) : (memref<1x8x6x6xf32>, memref<8x8x3x3xf32>, memref<8xf32>, memref<1x8x4x4xf32>) -> (memref<1x8x4x4xf32>)
    func.return
  }
}
