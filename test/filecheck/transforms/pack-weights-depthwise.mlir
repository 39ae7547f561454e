// Two depthwise weights: [2,1,3,3] at offset 0 and [2,1,5,5] at offset 128.
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; np.arange(82, dtype='<f4').tofile('p.weights.bin')"
// RUN: mnistc-opt %s -p pack-weights --weights-out out.weights.bin | filecheck %s

// Depthwise (groups = C = K) 3x3 and 5x5 windows with stride 1 or 2 and dilation 1: the
// depthwise kernel, before the stride-1 packed kernel, reading the model's weight as it is
// (no packed copy); padding past the window's half is fine. Dilated: the packed kernel.
// Unequal strides: the general kernel.
// CHECK-NOT:  cpu.weight "w3|conv2d_depthwise"
// CHECK-NOT:  cpu.weight "w5|conv2d_depthwise"
// CHECK:      %[[W3:.*]] = cpu.weight "w3" offset 0 : memref<2x1x3x3xf32>
// CHECK:      %[[W5:.*]] = cpu.weight "w5" offset 128 : memref<2x1x5x5xf32>
// CHECK:      cpu.call @conv2d_depthwise(%{{.*}}, %[[W3]], %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 2, H = 5, W = 5, K = 2, OH = 5, OW = 5, KH = 3, KW = 3, stride_h = 1, stride_w = 1, pad_h = 1, pad_w = 1, activation = 2, alpha = 0.0, beta = 6.0)
// CHECK:      cpu.call @conv2d_depthwise(%{{.*}}, %[[W5]], %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 2, H = 5, W = 5, K = 2, OH = 4, OW = 4, KH = 5, KW = 5, stride_h = 2, stride_w = 2, pad_h = 3, pad_w = 3, activation = 0, alpha = 0.0, beta = 0.0)
// CHECK:      cpu.call @conv2d_packed(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 2, H = 5, W = 5, K = 2, OH = 1, OW = 1, KH = 3, KW = 3, pad_h = 0, pad_w = 0, dilation_h = 2, dilation_w = 2, groups = 2, activation = 0, alpha = 0.0, beta = 0.0)
// CHECK:      cpu.call @conv2d(%{{.*}}, %[[W3]], %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 2, H = 5, W = 5, K = 2, OH = 5, OW = 3, KH = 3, KW = 3, stride_h = 1, stride_w = 2, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 2, activation = 0, alpha = 0.0, beta = 0.0)

builtin.module attributes {nn.weights_file = "p.weights.bin"} {
  func.func @forward(%input: memref<?x2x5x5xf32>, %output: memref<?x2x5x5xf32>) {
    %c0 = arith.constant 0 : index
    %w3 = cpu.weight "w3" offset 0 : memref<2x1x3x3xf32>
    %w5 = cpu.weight "w5" offset 128 : memref<2x1x5x5xf32>
    %x = cpu.sample %input[%c0] : memref<?x2x5x5xf32> -> memref<1x2x5x5xf32>
    %y = cpu.sample %output[%c0] : memref<?x2x5x5xf32> -> memref<1x2x5x5xf32>
    %b = cpu.null : memref<2xf32>
    %r = cpu.null : memref<1x2x5x5xf32>
    cpu.call @conv2d(%x, %w3, %b, %r) outs(%y) params(C = 2, H = 5, W = 5, K = 2, OH = 5, OW = 5, KH = 3, KW = 3, stride_h = 1, stride_w = 1, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 2, activation = 2, alpha = 0.0, beta = 6.0) : (memref<1x2x5x5xf32>, memref<2x1x3x3xf32>, memref<2xf32>, memref<1x2x5x5xf32>) -> (memref<1x2x5x5xf32>)
    %s = memref.alloc() : memref<1x2x4x4xf32>
    %r2 = cpu.null : memref<1x2x4x4xf32>
    cpu.call @conv2d(%y, %w5, %b, %r2) outs(%s) params(C = 2, H = 5, W = 5, K = 2, OH = 4, OW = 4, KH = 5, KW = 5, stride_h = 2, stride_w = 2, pad_h = 3, pad_w = 3, dilation_h = 1, dilation_w = 1, groups = 2, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x2x5x5xf32>, memref<2x1x5x5xf32>, memref<2xf32>, memref<1x2x4x4xf32>) -> (memref<1x2x4x4xf32>)
    %d = memref.alloc() : memref<1x2x1x1xf32>
    %r3 = cpu.null : memref<1x2x1x1xf32>
    cpu.call @conv2d(%y, %w3, %b, %r3) outs(%d) params(C = 2, H = 5, W = 5, K = 2, OH = 1, OW = 1, KH = 3, KW = 3, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 2, dilation_w = 2, groups = 2, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x2x5x5xf32>, memref<2x1x3x3xf32>, memref<2xf32>, memref<1x2x1x1xf32>) -> (memref<1x2x1x1xf32>)
    %u = memref.alloc() : memref<1x2x5x3xf32>
    %r4 = cpu.null : memref<1x2x5x3xf32>
    cpu.call @conv2d(%y, %w3, %b, %r4) outs(%u) params(C = 2, H = 5, W = 5, K = 2, OH = 5, OW = 3, KH = 3, KW = 3, stride_h = 1, stride_w = 2, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 2, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x2x5x5xf32>, memref<2x1x3x3xf32>, memref<2xf32>, memref<1x2x5x3xf32>) -> (memref<1x2x5x3xf32>)
    func.return
  }
}
