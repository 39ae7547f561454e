// RUN: mnistc-opt %s -p fuse-conv-max-pool | filecheck %s

// A 2x2 stride-2 pool of a temporary written only by a Winograd convolution: the
// convolution writes the pooled result itself (pool param 2) and the temporary goes.
// CHECK-LABEL: func.func @fused
// CHECK-NOT:   memref.alloc
// CHECK:       cpu.call @conv2d_winograd(%{{.*}}) outs(%y) params(C = 8, H = 10, W = 10, K = 8, OH = 8, OW = 8, pad_h = 0, pad_w = 0, pool = 2, activation = 1, alpha = 0.0, beta = 0.0)
// CHECK-NOT:   @max_pool2d
// CHECK:       func.return

// Not fused: a 3x3 window; a residual input; a temporary read by someone else.
// CHECK-LABEL: func.func @kept
// CHECK:       cpu.call @conv2d_winograd({{.*}}) outs(%t1) params(C = 8, H = 10, W = 10, K = 8, OH = 8, OW = 8, pad_h = 0, pad_w = 0, pool = 0, activation = 1, alpha = 0.0, beta = 0.0)
// CHECK-NEXT:  cpu.call @max_pool2d(%t1)
// CHECK:       cpu.call @conv2d_winograd({{.*}}) outs(%t2) params(C = 8, H = 10, W = 10, K = 8, OH = 8, OW = 8, pad_h = 0, pad_w = 0, pool = 0, activation = 1, alpha = 0.0, beta = 0.0)
// CHECK-NEXT:  cpu.call @max_pool2d(%t2)
// CHECK:       cpu.call @conv2d_winograd({{.*}}) outs(%t3) params(C = 8, H = 10, W = 10, K = 8, OH = 8, OW = 8, pad_h = 0, pad_w = 0, pool = 0, activation = 1, alpha = 0.0, beta = 0.0)
// CHECK-NEXT:  cpu.call @max_pool2d(%t3)

builtin.module {
  func.func @fused(%x: memref<1x8x10x10xf32>, %u: memref<4608xf32>, %y: memref<1x8x4x4xf32>) {
    %b = cpu.null : memref<8xf32>
    %r = cpu.null : memref<1x8x8x8xf32>
    %t = memref.alloc() : memref<1x8x8x8xf32>
    cpu.call @conv2d_winograd(%x, %u, %b, %r) outs(%t) params(C = 8, H = 10, W = 10, K = 8, OH = 8, OW = 8, pad_h = 0, pad_w = 0, pool = 0, activation = 1, alpha = 0.0, beta = 0.0) : (memref<1x8x10x10xf32>, memref<4608xf32>, memref<8xf32>, memref<1x8x8x8xf32>) -> (memref<1x8x8x8xf32>)
    cpu.call @max_pool2d(%t) outs(%y) params(C = 8, H = 8, W = 8, OH = 4, OW = 4, KH = 2, KW = 2, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1) : (memref<1x8x8x8xf32>) -> (memref<1x8x4x4xf32>)
    func.return
  }

  func.func @kept(%x: memref<1x8x10x10xf32>, %u: memref<4608xf32>, %res: memref<1x8x8x8xf32>, %y: memref<1x8x4x4xf32>, %z: memref<1x8x8x8xf32>, %y2: memref<1x8x2x2xf32>) {
    %b = cpu.null : memref<8xf32>
    %r = cpu.null : memref<1x8x8x8xf32>
    %t1 = memref.alloc() : memref<1x8x8x8xf32>
    cpu.call @conv2d_winograd(%x, %u, %b, %r) outs(%t1) params(C = 8, H = 10, W = 10, K = 8, OH = 8, OW = 8, pad_h = 0, pad_w = 0, pool = 0, activation = 1, alpha = 0.0, beta = 0.0) : (memref<1x8x10x10xf32>, memref<4608xf32>, memref<8xf32>, memref<1x8x8x8xf32>) -> (memref<1x8x8x8xf32>)
    cpu.call @max_pool2d(%t1) outs(%y2) params(C = 8, H = 8, W = 8, OH = 2, OW = 2, KH = 3, KW = 3, stride_h = 3, stride_w = 3, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1) : (memref<1x8x8x8xf32>) -> (memref<1x8x2x2xf32>)
    %t2 = memref.alloc() : memref<1x8x8x8xf32>
    cpu.call @conv2d_winograd(%x, %u, %b, %res) outs(%t2) params(C = 8, H = 10, W = 10, K = 8, OH = 8, OW = 8, pad_h = 0, pad_w = 0, pool = 0, activation = 1, alpha = 0.0, beta = 0.0) : (memref<1x8x10x10xf32>, memref<4608xf32>, memref<8xf32>, memref<1x8x8x8xf32>) -> (memref<1x8x8x8xf32>)
    cpu.call @max_pool2d(%t2) outs(%y) params(C = 8, H = 8, W = 8, OH = 4, OW = 4, KH = 2, KW = 2, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1) : (memref<1x8x8x8xf32>) -> (memref<1x8x4x4xf32>)
    %t3 = memref.alloc() : memref<1x8x8x8xf32>
    cpu.call @conv2d_winograd(%x, %u, %b, %r) outs(%t3) params(C = 8, H = 10, W = 10, K = 8, OH = 8, OW = 8, pad_h = 0, pad_w = 0, pool = 0, activation = 1, alpha = 0.0, beta = 0.0) : (memref<1x8x10x10xf32>, memref<4608xf32>, memref<8xf32>, memref<1x8x8x8xf32>) -> (memref<1x8x8x8xf32>)
    cpu.call @max_pool2d(%t3) outs(%y) params(C = 8, H = 8, W = 8, OH = 4, OW = 4, KH = 2, KW = 2, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1) : (memref<1x8x8x8xf32>) -> (memref<1x8x4x4xf32>)
    cpu.call @copy(%t3) outs(%z) params(count = 512) : (memref<1x8x8x8xf32>) -> (memref<1x8x8x8xf32>)
    func.return
  }
}
