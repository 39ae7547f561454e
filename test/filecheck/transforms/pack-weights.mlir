// The weight file holds w, a [4,2,1,1] conv weight 1..8 at offset 0; v, a [4,4,3,3] one
// of ones at offset 64; d, a [4,1,3,3] one of ones at offset 640.
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; np.concatenate([np.arange(1, 9), np.zeros(8), np.ones(180)]).astype('<f4').tofile('p.weights.bin')"
// RUN: mnistc-opt %s -p pack-weights --weights-out out.weights.bin | filecheck %s
// RUN: %python -c "import numpy as np; print(np.fromfile('out.weights.bin', '<f4')[208:232])" | filecheck %s --check-prefix=DATA

// The cost rule of pack-weights' _gemm_applies, one convolution per clause, in order:
// 1. a 1x1 convolution with 2 groups of 2 channels: the GEMM core, its weight packed per
//    group in panels of MR = 6 output channels;
// 2. a 3x3 stride-1 convolution with 4 output channels (fewer than 64): the packed
//    stride-1 kernel, its weight padded to MR = 4;
// 3. the same 3x3 with stride 2: the GEMM core;
// 4. a 1x1 kernel on a single output pixel (a matrix-vector product): not the GEMM, and
//    not stride 1, so the general kernel;
// 5. a depthwise convolution (groups = C = 4), stride 2: not the GEMM, the depthwise
//    kernel, on the weight as it is.
// CHECK:      %[[G:.*]] = cpu.weight "w|conv2d_gemm" offset 832 : memref<24xf32>
// CHECK:      %[[P:.*]] = cpu.weight "v|conv2d_packed" offset 960 : memref<144xf32>
// CHECK:      %[[S:.*]] = cpu.weight "v|conv2d_gemm" offset 1536 : memref<216xf32>
// CHECK:      cpu.call @conv2d_gemm(%{{.*}}, %[[G]], %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 4, H = 3, W = 3, K = 4, OH = 3, OW = 3, KH = 1, KW = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 2, activation = 0, alpha = 0.0, beta = 0.0)
// CHECK:      cpu.call @conv2d_packed(%{{.*}}, %[[P]], %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 4, H = 3, W = 3, K = 4, OH = 3, OW = 3, KH = 3, KW = 3, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0)
// CHECK:      cpu.call @conv2d_gemm(%{{.*}}, %[[S]], %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 4, H = 3, W = 3, K = 4, OH = 2, OW = 2, KH = 3, KW = 3, stride_h = 2, stride_w = 2, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0)
// CHECK:      cpu.call @conv2d(%{{.*}}) outs(%{{.*}}) params(C = 4, H = 3, W = 3, K = 4, OH = 1, OW = 1, KH = 1, KW = 1, stride_h = 3
// CHECK:      cpu.call @conv2d_depthwise(%{{.*}}, %d, %{{.*}}) outs(%{{.*}}) params(C = 4, H = 3, W = 3, K = 4, OH = 2, OW = 2, KH = 3, KW = 3, stride_h = 2, stride_w = 2, pad_h = 1, pad_w = 1, activation = 0,
// The GEMM weight of w: group 0 is rows (1 2) and (3 4) of w, row c of the panel holding
// input channel c of both output channels, then 4 zero channels; then group 1.
// DATA: [1. 3. 0. 0. 0. 0. 2. 4. 0. 0. 0. 0. 5. 7. 0. 0. 0. 0. 6. 8. 0. 0. 0. 0.]

builtin.module attributes {nn.weights_file = "p.weights.bin"} {
  func.func @forward(%input: memref<?x4x3x3xf32>, %output: memref<?x4x3x3xf32>) {
    %c0 = arith.constant 0 : index
    %w = cpu.weight "w" offset 0 : memref<4x2x1x1xf32>
    %v = cpu.weight "v" offset 64 : memref<4x4x3x3xf32>
    %d = cpu.weight "d" offset 640 : memref<4x1x3x3xf32>
    %x = cpu.sample %input[%c0] : memref<?x4x3x3xf32> -> memref<1x4x3x3xf32>
    %y = cpu.sample %output[%c0] : memref<?x4x3x3xf32> -> memref<1x4x3x3xf32>
    %b = cpu.null : memref<4xf32>
    %r = cpu.null : memref<1x4x3x3xf32>
    cpu.call @conv2d(%x, %w, %b, %r) outs(%y) params(C = 4, H = 3, W = 3, K = 4, OH = 3, OW = 3, KH = 1, KW = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 2, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x4x3x3xf32>, memref<4x2x1x1xf32>, memref<4xf32>, memref<1x4x3x3xf32>) -> (memref<1x4x3x3xf32>)
    %t = memref.alloc() : memref<1x4x3x3xf32>
    cpu.call @conv2d(%y, %v, %b, %r) outs(%t) params(C = 4, H = 3, W = 3, K = 4, OH = 3, OW = 3, KH = 3, KW = 3, stride_h = 1, stride_w = 1, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x4x3x3xf32>, memref<4x4x3x3xf32>, memref<4xf32>, memref<1x4x3x3xf32>) -> (memref<1x4x3x3xf32>)
    %s = memref.alloc() : memref<1x4x2x2xf32>
    %r2 = cpu.null : memref<1x4x2x2xf32>
    cpu.call @conv2d(%t, %v, %b, %r2) outs(%s) params(C = 4, H = 3, W = 3, K = 4, OH = 2, OW = 2, KH = 3, KW = 3, stride_h = 2, stride_w = 2, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x4x3x3xf32>, memref<4x4x3x3xf32>, memref<4xf32>, memref<1x4x2x2xf32>) -> (memref<1x4x2x2xf32>)
    %p = memref.alloc() : memref<1x4x1x1xf32>
    %r3 = cpu.null : memref<1x4x1x1xf32>
    %w4 = cpu.weight "w4" offset 64 : memref<4x4x1x1xf32>
    cpu.call @conv2d(%t, %w4, %b, %r3) outs(%p) params(C = 4, H = 3, W = 3, K = 4, OH = 1, OW = 1, KH = 1, KW = 1, stride_h = 3, stride_w = 3, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x4x3x3xf32>, memref<4x4x1x1xf32>, memref<4xf32>, memref<1x4x1x1xf32>) -> (memref<1x4x1x1xf32>)
    %q = memref.alloc() : memref<1x4x2x2xf32>
    cpu.call @conv2d(%t, %d, %b, %r2) outs(%q) params(C = 4, H = 3, W = 3, K = 4, OH = 2, OW = 2, KH = 3, KW = 3, stride_h = 2, stride_w = 2, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 4, activation = 0, alpha = 0.0, beta = 0.0) : (memref<1x4x3x3xf32>, memref<4x1x3x3xf32>, memref<4xf32>, memref<1x4x2x2xf32>) -> (memref<1x4x2x2xf32>)
    func.return
  }
}
