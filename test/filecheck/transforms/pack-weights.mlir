// The weight file holds a [2,1,1,1] conv weight [1, 2] at offset 0.
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; np.array([1, 2], '<f4').tofile('p.weights.bin')"
// RUN: mnistc-opt %s -p pack-weights --weights-out out.weights.bin | filecheck %s
// RUN: %python -c "import numpy as np; print(np.fromfile('out.weights.bin', '<f4')[16:20])" | filecheck %s --check-prefix=DATA

// Stride 1: the packed kernel, its weight padded to MR = 4 channels, strides dropped
// from the params. Stride 2 with one group: the im2col kernel, its weight packed as a 1x1
// convolution; with groups it keeps the general kernel.
// CHECK:      %[[P:.*]] = cpu.weight "w|conv2d_packed" offset 64 : memref<4xf32>
// CHECK:      %[[I:.*]] = cpu.weight "w|conv2d_im2col" offset 128 : memref<4xf32>
// CHECK:      cpu.call @conv2d_packed(%{{.*}}, %[[P]], %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 1, H = 3, W = 3, K = 2, OH = 3, OW = 3, KH = 1, KW = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0)
// CHECK:      cpu.call @conv2d_im2col(%{{.*}}, %[[I]], %{{.*}}, %{{.*}}) outs(%[[T:.*]]) params(C = 1, H = 3, W = 3, K = 2, OH = 2, OW = 2, KH = 1, KW = 1, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, activation = 0, alpha = 0.0, beta = 0.0)
// CHECK:      cpu.call @conv2d(%[[T]], %{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 2, H = 2, W = 2, K = 2, OH = 1, OW = 1, KH = 1, KW = 1, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 2, activation = 0, alpha = 0.0, beta = 0.0)
// DATA: [1. 2. 0. 0.]

builtin.module attributes {nn.weights_file = "p.weights.bin"} {
  func.func @forward(%input: memref<?x1x3x3xf32>, %output: memref<?x2x3x3xf32>) {
    %c0 = arith.constant 0 : index
    %w = cpu.weight "w" offset 0 : memref<2x1x1x1xf32>
    %x = cpu.sample %input[%c0] : memref<?x1x3x3xf32> -> memref<1x1x3x3xf32>
    %y = cpu.sample %output[%c0] : memref<?x2x3x3xf32> -> memref<1x2x3x3xf32>
    %b = cpu.null : memref<2xf32>
    %r = cpu.null : memref<1x2x3x3xf32>
    cpu.call @conv2d(%x, %w, %b, %r) outs(%y) params(C = 1, H = 3, W = 3, K = 2, OH = 3, OW = 3, KH = 1, KW = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x1x3x3xf32>, memref<2x1x1x1xf32>, memref<2xf32>, memref<1x2x3x3xf32>) -> (memref<1x2x3x3xf32>)
    %t = memref.alloc() : memref<1x2x2x2xf32>
    %r2 = cpu.null : memref<1x2x2x2xf32>
    cpu.call @conv2d(%x, %w, %b, %r2) outs(%t) params(C = 1, H = 3, W = 3, K = 2, OH = 2, OW = 2, KH = 1, KW = 1, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x1x3x3xf32>, memref<2x1x1x1xf32>, memref<2xf32>, memref<1x2x2x2xf32>) -> (memref<1x2x2x2xf32>)
    %d = memref.alloc() : memref<1x2x1x1xf32>
    %r3 = cpu.null : memref<1x2x1x1xf32>
    cpu.call @conv2d(%t, %w, %b, %r3) outs(%d) params(C = 2, H = 2, W = 2, K = 2, OH = 1, OW = 1, KH = 1, KW = 1, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 2, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x2x2x2xf32>, memref<2x1x1x1xf32>, memref<2xf32>, memref<1x2x1x1xf32>) -> (memref<1x2x1x1xf32>)
    func.return
  }
}
