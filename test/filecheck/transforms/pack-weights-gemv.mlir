// The weight file holds 96 floats: "w" [4,3,1,1] and "v2" [2,2,2,2] at byte 0, "v"
// [2,2,3,2] at byte 256.
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; np.arange(96, dtype='<f4').tofile('p.weights.bin')"
// RUN: mnistc-opt %s -p pack-weights --weights-out out.weights.bin | filecheck %s

// A convolution with one output pixel whose window is the whole unpadded input is a
// matrix-vector product with the weight [K, C*KH*KW] as stored: the `linear` GEMV, on
// the original weight (nothing packed), its activation kept. A squeeze-excite 1x1
// convolution on a 1x1 map, and a 3x2 window over a 3x2 map (odd sizes):
// CHECK-LABEL: func.func @forward
// CHECK-NOT:   cpu.weight "w|linear"
// CHECK:       %[[W:.*]] = cpu.weight "w" offset 0 : memref<4x3x1x1xf32>
// CHECK:       %[[V:.*]] = cpu.weight "v" offset 256 : memref<2x2x3x2xf32>
// CHECK:       cpu.call @linear(%{{.*}}, %[[W]], %[[B:.*]]) outs(%[[S:.*]]) params(M = 1, IN = 3, OUT = 4, activation = 11, alpha = 0.16666667, beta = 0.5)
// CHECK:       cpu.call @linear(%{{.*}}, %[[V]], %{{.*}}) outs(%{{.*}}) params(M = 1, IN = 12, OUT = 2, activation = 1, alpha = 0.0, beta = 0.0)
// Not with a residual (the GEMV has none), nor with padding (the window would see
// zeros beside the input), nor with more than one output pixel: the packed kernel (the
// GEMM core for the padded 1x1).
// CHECK:       cpu.call @conv2d_packed({{.*}}) params(C = 3, H = 1, W = 1, K = 4, OH = 1, OW = 1, KH = 1, KW = 1,
// CHECK:       cpu.call @conv2d_gemm({{.*}}) params(C = 3, H = 1, W = 1, K = 4, OH = 3, OW = 3, KH = 1, KW = 1, stride_h = 1, stride_w = 1, pad_h = 1, pad_w = 1,
// CHECK:       cpu.call @conv2d_packed({{.*}}) params(C = 2, H = 3, W = 2, K = 2, OH = 2, OW = 1, KH = 2, KW = 2,
// CHECK-NOT:   cpu.call @conv2d(

builtin.module attributes {nn.weights_file = "p.weights.bin"} {
  func.func @forward(%input: memref<?x3x1x1xf32>, %output: memref<?x4x1x1xf32>) {
    %c0 = arith.constant 0 : index
    %w = cpu.weight "w" offset 0 : memref<4x3x1x1xf32>
    %v = cpu.weight "v" offset 256 : memref<2x2x3x2xf32>
    %x = cpu.sample %input[%c0] : memref<?x3x1x1xf32> -> memref<1x3x1x1xf32>
    %y = cpu.sample %output[%c0] : memref<?x4x1x1xf32> -> memref<1x4x1x1xf32>
    %b = cpu.null : memref<4xf32>
    %r = cpu.null : memref<1x4x1x1xf32>
    %s = memref.alloc() : memref<1x4x1x1xf32>
    cpu.call @conv2d(%x, %w, %b, %r) outs(%s) params(C = 3, H = 1, W = 1, K = 4, OH = 1, OW = 1, KH = 1, KW = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1, activation = 11, alpha = 0.16666667, beta = 0.5) : (memref<1x3x1x1xf32>, memref<4x3x1x1xf32>, memref<4xf32>, memref<1x4x1x1xf32>) -> (memref<1x4x1x1xf32>)
    %m = memref.alloc() : memref<1x2x3x2xf32>
    %m1 = memref.alloc() : memref<1x2x1x1xf32>
    %b2 = cpu.null : memref<2xf32>
    %r2 = cpu.null : memref<1x2x1x1xf32>
    cpu.call @conv2d(%m, %v, %b2, %r2) outs(%m1) params(C = 2, H = 3, W = 2, K = 2, OH = 1, OW = 1, KH = 3, KW = 2, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1, activation = 1, alpha = 0.0, beta = 0.0) : (memref<1x2x3x2xf32>, memref<2x2x3x2xf32>, memref<2xf32>, memref<1x2x1x1xf32>) -> (memref<1x2x1x1xf32>)
    cpu.call @conv2d(%x, %w, %b, %s) outs(%y) params(C = 3, H = 1, W = 1, K = 4, OH = 1, OW = 1, KH = 1, KW = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x3x1x1xf32>, memref<4x3x1x1xf32>, memref<4xf32>, memref<1x4x1x1xf32>) -> (memref<1x4x1x1xf32>)
    %p = memref.alloc() : memref<1x4x3x3xf32>
    %r3 = cpu.null : memref<1x4x3x3xf32>
    cpu.call @conv2d(%x, %w, %b, %r3) outs(%p) params(C = 3, H = 1, W = 1, K = 4, OH = 3, OW = 3, KH = 1, KW = 1, stride_h = 1, stride_w = 1, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x3x1x1xf32>, memref<4x3x1x1xf32>, memref<4xf32>, memref<1x4x3x3xf32>) -> (memref<1x4x3x3xf32>)
    %q = memref.alloc() : memref<1x2x2x1xf32>
    %r4 = cpu.null : memref<1x2x2x1xf32>
    %v2 = cpu.weight "v2" offset 0 : memref<2x2x2x2xf32>
    cpu.call @conv2d(%m, %v2, %b2, %r4) outs(%q) params(C = 2, H = 3, W = 2, K = 2, OH = 2, OW = 1, KH = 2, KW = 2, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x2x3x2xf32>, memref<2x2x2x2xf32>, memref<2xf32>, memref<1x2x2x1xf32>) -> (memref<1x2x2x1xf32>)
    func.return
  }
}
