// The weight file holds a [256,256,3,3] conv weight of ones at offset 0.
// RUN: rm -rf %t && mkdir -p %t && cd %t
// RUN: %python -c "import numpy as np; np.ones(589824, '<f4').tofile('p.weights.bin')"
// RUN: mnistc-opt %s -p pack-weights --weights-out out.weights.bin | filecheck %s
// RUN: %python -c "import numpy as np; w = np.fromfile('out.weights.bin', '<f4'); print(w.size, w[589824], w[-1])" | filecheck %s --check-prefix=DATA
// RUN: mnistc-opt %s -p 'pack-weights{winograd=false}' --weights-out direct.weights.bin | filecheck %s --check-prefix=DIRECT
// RUN: sed -e 's/256/128/g' %s > small.mlir && mnistc-opt small.mlir -p pack-weights --weights-out small.weights.bin | filecheck %s --check-prefix=SMALL

// 3x3, stride 1, 256 channels in and out on an 8x8 map: 4 Winograd tiles, and a
// transformed weight U of 9 MiB, which would stream from DRAM to serve 4 tiles only: the
// kernel reads the raw weight (a quarter of the bytes) and transforms it at run time.
// CHECK:      %[[W:.*]] = cpu.weight "w|conv2d_winograd_raw" offset 2359296 : memref<589824xf32>
// CHECK:      cpu.call @conv2d_winograd_raw(%{{.*}}, %[[W]], %{{.*}}, %{{.*}}) outs(%{{.*}}) params(C = 256, H = 8, W = 8, K = 256, OH = 8, OW = 8, pad_h = 1, pad_w = 1, pool = 0, activation = 1, alpha = 0.0, beta = 0.0)
// The same 589824 values, reordered into panels of 16 output channels.
// DATA: 1179648 1.0 1.0{{$}}

// 128 channels (U of 2.25 MiB, which stays in L3): the transform at compile time.
// SMALL:      cpu.call @conv2d_winograd(

// Winograd turned off: neither Winograd kernel (the GEMM core: 256 output channels).
// DIRECT: cpu.call @conv2d_gemm(
// DIRECT-NOT: conv2d_winograd

builtin.module attributes {nn.weights_file = "p.weights.bin"} {
  func.func @forward(%input: memref<?x256x8x8xf32>, %output: memref<?x256x8x8xf32>) {
    %c0 = arith.constant 0 : index
    %w = cpu.weight "w" offset 0 : memref<256x256x3x3xf32>
    %x = cpu.sample %input[%c0] : memref<?x256x8x8xf32> -> memref<1x256x8x8xf32>
    %y = cpu.sample %output[%c0] : memref<?x256x8x8xf32> -> memref<1x256x8x8xf32>
    %b = cpu.null : memref<256xf32>
    %r = cpu.null : memref<1x256x8x8xf32>
    cpu.call @conv2d(%x, %w, %b, %r) outs(%y) params(C = 256, H = 8, W = 8, K = 256, OH = 8, OW = 8, KH = 3, KW = 3, stride_h = 1, stride_w = 1, pad_h = 1, pad_w = 1, dilation_h = 1, dilation_w = 1, groups = 1, activation = 1, alpha = 0.0, beta = 0.0) : (memref<1x256x8x8xf32>, memref<256x256x3x3xf32>, memref<256xf32>, memref<1x256x8x8xf32>) -> (memref<1x256x8x8xf32>)
    func.return
  }
}
